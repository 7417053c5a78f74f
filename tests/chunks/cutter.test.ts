/**
 * Content-defined cuts: where a chunk ends depends on the rows, not on where reading started or paused,
 * so one inserted row changes the chunk it lands in (and at most the next), never the others.
 */
import { describe, expect, it } from "vitest";
import { ChunkCutter, chunkBounds } from "../../lib/chunks/cutter.ts";

const rows = (n: number, from = 0) =>
  Array.from({ length: n }, (_, i) =>
    JSON.stringify([String(from + i), `customer ${from + i}`, "x".repeat(40)]),
  );

function cut(lines: string[], pageRows: number, bounds = chunkBounds(4096, 1 << 20)): string[][] {
  const cutter = new ChunkCutter(bounds);
  const chunks: Buffer[][] = [];
  for (let i = 0; i < lines.length; i += pageRows)
    chunks.push(...cutter.push(lines.slice(i, i + pageRows).map((l) => Buffer.from(l))));
  const last = cutter.flush();
  if (last) chunks.push(last);
  return chunks.map((c) => c.map((l) => l.toString("utf8")));
}

const names = (chunks: string[][]) => chunks.map((c) => c.join("\n"));

describe("content-defined chunking", () => {
  it("cuts the same rows the same way whatever the page size they arrive in", () => {
    const lines = rows(3000);
    const byTen = cut(lines, 10);
    expect(byTen.length).toBeGreaterThan(10);
    expect(names(cut(lines, 7))).toEqual(names(byTen));
    expect(names(cut(lines, 1000))).toEqual(names(byTen));
    expect(byTen.flat()).toEqual(lines);
  });

  it("keeps every chunk but the one a row is inserted into, and at most its neighbour", () => {
    const lines = rows(3000);
    const before = new Set(names(cut(lines, 100)));
    const inserted = [
      ...lines.slice(0, 1500),
      JSON.stringify(["new", "inserted row", "y"]),
      ...lines.slice(1500),
    ];
    const after = names(cut(inserted, 100));
    const fresh = after.filter((c) => !before.has(c));
    expect(fresh.length).toBeGreaterThanOrEqual(1);
    expect(fresh.length).toBeLessThanOrEqual(2);
  });

  it("stays within its bounds: no chunk over max, none under min but the last", () => {
    const bounds = chunkBounds(4096, 1 << 20);
    const chunks = cut(rows(5000), 50, bounds);
    const size = (c: string[]) => c.reduce((n, l) => n + l.length + 1, 0);
    for (const c of chunks) expect(size(c)).toBeLessThanOrEqual(bounds.max + 200);
    for (const c of chunks.slice(0, -1)) expect(size(c)).toBeGreaterThanOrEqual(bounds.min);
    const mean = chunks.reduce((n, c) => n + size(c), 0) / chunks.length;
    expect(mean).toBeGreaterThan(bounds.target / 2);
    expect(mean).toBeLessThan(bounds.target * 2);
    expect(chunkBounds(262_144, 10_000).max).toBe(10_000);
  });

  it("cuts rows of multi-byte characters where their UTF-16 text says, as when rows were strings", () => {
    // The rule as it was stated over strings: size and FNV-1a hash over UTF-16 code units.
    const bounds = chunkBounds(2048, 1 << 20);
    const reference = (lines: string[]) => {
      const perChar = 2 ** 32 / (bounds.target - bounds.min);
      const chunks: string[][] = [];
      let held: string[] = [];
      let size = 0;
      for (const line of lines) {
        held.push(line);
        size += line.length + 1;
        let h = 0x811c9dc5;
        for (let i = 0; i < line.length; i++) h = Math.imul(h ^ line.charCodeAt(i), 0x01000193);
        if (size >= bounds.max || (size >= bounds.min && h >>> 0 < (line.length + 1) * perChar)) {
          chunks.push(held);
          held = [];
          size = 0;
        }
      }
      if (held.length > 0) chunks.push(held);
      return chunks;
    };
    const lines = Array.from({ length: 3000 }, (_, i) =>
      JSON.stringify([String(i), `é€𝄞 ${"ü".repeat(i % 50)}`, "日本".repeat(i % 7)]),
    );
    const expected = reference(lines);
    expect(expected.length).toBeGreaterThan(20);
    expect(cut(lines, 13, bounds)).toEqual(expected);
  });
});
