#!/usr/bin/env bash
# Runs before `npm test`: the admin page's browser tests drive Debian's Chromium (playwright-core never
# downloads a browser). When it is missing and we may install packages (root, as in containers and CI), it
# is installed with apt-get, non-interactively; otherwise the command to run is printed and the tests stop.
set -euo pipefail
browser="${CHROMIUM_PATH:-/usr/bin/chromium}"
[ -x "$browser" ] && exit 0
if [ -n "${CHROMIUM_PATH:-}" ]; then
  echo "CHROMIUM_PATH=$CHROMIUM_PATH is not an executable file" >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "The browser tests need Chromium: run 'sudo apt-get install chromium' (Debian/Ubuntu), or set CHROMIUM_PATH." >&2
  exit 1
fi
echo "installing Debian's chromium for the browser tests (apt-get) …" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
