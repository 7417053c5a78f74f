/**
 * The engine reads the time only through services.now(): every deadline, backup id and log timestamp of
 * one operation then comes from the same clock, and tests can set it. lib/time.ts holds the one reading
 * of the host's clock.
 */
import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CLOCK_MODULE = "lib/time.ts";

/** Date.now(), new Date() and new Date without arguments: readings of the host's clock. */
const WALL_CLOCK = /\bDate\.now\s*\(|\bnew\s+Date\s*\(\s*\)|\bnew\s+Date\b(?!\s*\()/g;

function wallClockReadings(source: string): string[] {
  // Comments may speak of Date.now(); only code counts.
  const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:])\/\/.*$/gm, "$1");
  return [...code.matchAll(WALL_CLOCK)].map((m) => m[0]);
}

async function sources(dir: string): Promise<string[]> {
  const entries = await readdir(join(ROOT, dir), { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith(".ts"))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)));
}

describe("one clock", () => {
  it("finds every way of reading the host's clock", () => {
    expect(wallClockReadings("const a = Date.now(); const b = new Date(); const c = new Date;")).toEqual([
      "Date.now(",
      "new Date()",
      "new Date",
    ]);
    expect(wallClockReadings("new Date(at); new Date(Date.UTC(y, m, d)); // Date.now()")).toEqual([]);
  });

  it("lib/ reads the host's clock only in the clock module", async () => {
    const found: Record<string, string[]> = {};
    for (const file of await sources("lib")) {
      if (file === CLOCK_MODULE) continue;
      const readings = wallClockReadings(await readFile(join(ROOT, file), "utf8"));
      if (readings.length > 0) found[file] = readings;
    }
    expect(found).toEqual({});
  });
});
