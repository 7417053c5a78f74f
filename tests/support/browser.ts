/** Debian's Chromium for the browser tests, driven by playwright-core (which never downloads a browser). */
import { type Browser, chromium } from "playwright-core";

/** Headless Chromium at CHROMIUM_PATH or /usr/bin/chromium, or an error that says what to install. */
export async function launchChromium(): Promise<Browser> {
  const executablePath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
  return chromium.launch({ executablePath, headless: true }).catch((err: Error) => {
    throw new Error(
      `cannot start Chromium at ${executablePath}: install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH. ${err.message}`,
    );
  });
}
