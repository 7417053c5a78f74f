/**
 * Content-defined cuts: where a chunk ends depends on the rows, not on where reading started or paused,
 * so one inserted row changes the chunk it lands in (and at most the next), never the others.
 */
import { describe, expect, it } from "vitest";
import { linesOf, type RowsText } from "../../lib/backup/lines.ts";
import { ChunkCutter, chunkBounds, rowHash } from "../../lib/chunks/cutter.ts";

const rows = (n: number, from = 0) =>
  Array.from({ length: n }, (_, i) =>
    JSON.stringify([String(from + i), `customer ${from + i}`, "x".repeat(40)]),
  );

/**
 * The chunks `lines` are cut into, fed a page of `pageRows` rows at a time; each page as blocks of whole
 * lines of `blockRows` rows (all in one block by default), as a stream's reads bring them.
 */
function cut(
  lines: string[],
  pageRows: number,
  bounds = chunkBounds(4096, 1 << 20),
  blockRows = pageRows,
): string[][] {
  const cutter = new ChunkCutter(bounds);
  const chunks: RowsText[] = [];
  for (let i = 0; i < lines.length; i += pageRows) {
    const page = lines.slice(i, i + pageRows);
    const blocks: Buffer[] = [];
    for (let j = 0; j < page.length; j += blockRows)
      blocks.push(
        Buffer.from(
          page
            .slice(j, j + blockRows)
            .map((l) => `${l}\n`)
            .join(""),
        ),
      );
    chunks.push(...cutter.push(blocks));
  }
  const last = cutter.flush();
  if (last) chunks.push(last);
  return chunks.map((c) => {
    const rows = linesOf(c.parts).map((l) => l.toString("utf8"));
    // A chunk's counts are those of the text it holds.
    expect(c.rows).toBe(rows.length);
    expect(c.bytes).toBe(c.parts.reduce((n, p) => n + p.length, 0));
    return rows;
  });
}

const names = (chunks: string[][]) => chunks.map((c) => c.join("\n"));

describe("content-defined chunking", () => {
  it("cuts the same rows the same way whatever the page size they arrive in", () => {
    const lines = rows(3000);
    const byTen = cut(lines, 10);
    expect(byTen.length).toBeGreaterThan(10);
    expect(names(cut(lines, 7))).toEqual(names(byTen));
    expect(names(cut(lines, 1000))).toEqual(names(byTen));
    // Blocks of one row, of a few, and pages cut across blocks, as reads of a stream bring them.
    expect(names(cut(lines, 1000, undefined, 1))).toEqual(names(byTen));
    expect(names(cut(lines, 999, undefined, 37))).toEqual(names(byTen));
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

  it("counts multi-byte rows in their UTF-8 bytes: every chunk but the last within min and max bytes", () => {
    const bounds = chunkBounds(2048, 1 << 20);
    // Rows of 3- and 4-byte characters: their bytes are two to three times their characters.
    const lines = Array.from({ length: 3000 }, (_, i) =>
      JSON.stringify([String(i), `€𝄞 ${"日本".repeat(10 + (i % 20))}`]),
    );
    const chunks = cut(lines, 13, bounds);
    expect(chunks.length).toBeGreaterThan(20);
    expect(chunks.flat()).toEqual(lines);
    const bytes = (c: string[]) => c.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0);
    const longest = Math.max(...lines.map((l) => Buffer.byteLength(l) + 1));
    for (const c of chunks) expect(bytes(c)).toBeLessThan(bounds.max + longest);
    for (const c of chunks.slice(0, -1)) expect(bytes(c)).toBeGreaterThanOrEqual(bounds.min);
    const mean = chunks.reduce((n, c) => n + bytes(c), 0) / chunks.length;
    expect(mean).toBeGreaterThan(bounds.target / 2);
    expect(mean).toBeLessThan(bounds.target * 2);
  });

  it("hashes rows as its definition says, whatever their length: chunks keep their names", () => {
    // The definition, one byte at a time: byte i to lane i % 4 while four remain, the rest to the first.
    const definition = (line: Uint8Array) => {
      const lanes = [0x811c9dc5, 0x050c5d1f, 0x1b873593, 0x2545f491];
      const whole = line.length - (line.length % 4);
      for (let i = 0; i < line.length; i++) {
        const lane = i < whole ? i % 4 : 0;
        lanes[lane] = Math.imul((lanes[lane] as number) ^ (line[i] as number), 0x01000193);
      }
      const [a, b, c, d] = lanes as [number, number, number, number];
      let h = a ^ ((b << 8) | (b >>> 24)) ^ ((c << 16) | (c >>> 16)) ^ ((d << 24) | (d >>> 8));
      h ^= h >>> 16;
      h = Math.imul(h, 0x85ebca6b);
      h ^= h >>> 13;
      h = Math.imul(h, 0xc2b2ae35);
      h ^= h >>> 16;
      return h >>> 0;
    };
    for (let length = 0; length <= 70; length++) {
      for (let seed = 0; seed < 5; seed++) {
        const row = Buffer.from(Array.from({ length }, (_, i) => (i * 131 + seed * 57 + length) % 256));
        expect(rowHash(row), `${length} bytes, seed ${seed}`).toBe(definition(row));
      }
    }
    // A row inside a larger buffer hashes as the row alone.
    const row = '["42","a customer"]';
    expect(rowHash(Buffer.from(`before\n${row}\nafter`), 7, 7 + row.length)).toBe(rowHash(Buffer.from(row)));
    // And one row's hash as written down before the loop was unrolled: the same on every machine.
    expect(rowHash(Buffer.from('["42","a customer","2026-12-02 00:00:00+00"]'))).toBe(1063674434);
  });

  it("hashes every byte of a row: changing any one byte changes the row's hash", () => {
    const row = Buffer.from(JSON.stringify(["42", "a customer", "x".repeat(200), "日本"]));
    const before = rowHash(row);
    for (let i = 0; i < row.length; i++) {
      const changed = Buffer.from(row);
      changed[i] = (changed[i] as number) ^ 0x01;
      expect(rowHash(changed), `byte ${i}`).not.toBe(before);
    }
    // Spread over the 32 bits: a row ends a chunk with the probability the rule means it to.
    const hashes = rows(20_000).map((l) => rowHash(Buffer.from(l)));
    const under = (share: number) => hashes.filter((h) => h < share * 2 ** 32).length / hashes.length;
    for (const share of [0.01, 0.1, 0.5])
      expect(Math.abs(under(share) - share)).toBeLessThan(share / 4 + 0.005);
  });
});
