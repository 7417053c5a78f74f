/**
 * The pages a streamed table is read in: at most the page's row limit, ending with the first row whose text
 * starts at or after the byte bound, numbered by the rows read so far, done with the last — whatever the
 * pieces the stream brings its text in, and whether rows are taken as streamed or converted.
 */
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { linesOf } from "../../lib/backup/lines.ts";
import { openRowSource, type SourcePage } from "../../lib/backup/row-source.ts";
import type { HeldSnapshot } from "../../lib/db/port.ts";
import type { LiveQueries, TenantDb } from "../../lib/db/tenant-db.ts";

/** COPY text rows of lengths from 1 to 90 bytes: a page's bounds fall at many places within them. */
const ROWS = Array.from({ length: 400 }, (_, i) => `${i}\trow ${"x".repeat((i * 37) % 80)}`);
const TEXT = Buffer.from(ROWS.map((r) => `${r}\n`).join(""));

/** A direct connection whose live table streams `TEXT` in pieces of `piece` bytes. */
function streaming(piece: number): TenantDb {
  const pieces: Buffer[] = [];
  for (let at = 0; at < TEXT.length; at += piece) pieces.push(TEXT.subarray(at, at + piece));
  return { canStream: true, liveStream: async () => Readable.from(pieces) } as unknown as TenantDb;
}

async function pagesOf(db: TenantDb, rowsAs: "copy" | "line", limit: number, maxBytes: number) {
  const source = await openRowSource(db, {
    backupId: "b",
    rowsAs,
    table: "t",
    after: null,
    limit,
    live: { queries: {} as LiveQueries, snapshot: {} as HeldSnapshot },
  });
  const pages: SourcePage[] = [];
  for (let page = await source.next(maxBytes); ; page = await source.next(maxBytes)) {
    pages.push(page);
    if (page.done || page.text.rows === 0) break;
  }
  return pages;
}

describe("a streamed table's pages", () => {
  it.each([1, 7, 64, 4096])(
    "keep to the row limit, whatever pieces of %i bytes bring the rows",
    async (piece) => {
      for (const rowsAs of ["copy", "line"] as const) {
        const pages = await pagesOf(streaming(piece), rowsAs, 7, 1 << 20);
        const counts = pages.map((p) => p.text.rows);
        expect(counts.slice(0, -1).every((n) => n === 7)).toBe(true);
        expect(counts.reduce((a, b) => a + b, 0)).toBe(ROWS.length);
        expect(pages.at(-1)?.done).toBe(true);
        let read = 0;
        for (const page of pages) {
          read += page.text.rows;
          expect(page.last_key).toEqual([String(read)]);
          expect(linesOf(page.text.parts)).toHaveLength(page.text.rows);
          expect(page.text.bytes).toBe(page.text.parts.reduce((n, p) => n + p.length, 0));
        }
        if (rowsAs === "copy")
          expect(Buffer.concat(pages.flatMap((p) => p.text.parts)).equals(TEXT)).toBe(true);
      }
    },
  );

  it.each([1, 7, 64, 4096])(
    "end with the first row at or past the byte bound, with pieces of %i bytes",
    async (piece) => {
      const pages = await pagesOf(streaming(piece), "copy", 100_000, 300);
      const rows = pages.map((p) => linesOf(p.text.parts).map((l) => l.length + 1));
      for (const [i, lengths] of rows.entries()) {
        const before = lengths.slice(0, -1).reduce((a, b) => a + b, 0);
        expect(before).toBeLessThan(300);
        if (i < rows.length - 1) expect(before + (lengths.at(-1) as number)).toBeGreaterThanOrEqual(300);
      }
      expect(rows.flat()).toEqual(ROWS.map((r) => r.length + 1));
    },
  );
});
