/**
 * A chunk read back in pages: each page is whole lines, views of the decompressed text, however the
 * lines fall across the decompressor's pieces (256 KB each) and the page limits.
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { readVerifiedPages } from "../../lib/backup/reader.ts";
import { compressChunk } from "../../lib/chunks/codec.ts";
import type { BackupStorage } from "../../lib/storage/port.ts";

const PATH = `tenant-backups/t1/chunks/${"a".repeat(64)}.jsonl.zst`;

async function pagesOf(lines: string[], limits: { maxRows: number; maxBytes: number }) {
  const text = Buffer.from(`${lines.join("\n")}\n`);
  const stored = await compressChunk(text);
  const storage = { get: async () => stored } as unknown as BackupStorage;
  const file = {
    path: PATH,
    rows: lines.length,
    bytes: stored.length,
    sha256: createHash("sha256").update(text).digest("hex"),
    last_key: null,
  };
  const pages: { rows: number; text: string }[] = [];
  for await (const page of readVerifiedPages(storage, file, limits)) {
    pages.push({ rows: page.rows, text: Buffer.concat(page.data).toString("utf8") });
  }
  return pages;
}

describe("a chunk's pages", () => {
  it("are whole lines within their limits, whatever the pieces the text was decompressed in", async () => {
    // Rows of 10 to 190 KB: many go on from one 256 KB piece into the next.
    const lines = Array.from({ length: 40 }, (_, i) =>
      JSON.stringify([String(i), "é".repeat(5_000 + i * 4_000)]),
    );
    // And short rows, where a page's bound falls on a piece's end (256 KB) inside a row.
    lines.push(...Array.from({ length: 20_000 }, (_, i) => JSON.stringify([String(i), "z".repeat(50)])));
    for (const limits of [
      { maxRows: 100_000, maxBytes: 256 * 1024 },
      { maxRows: 1000, maxBytes: 150_000 },
      { maxRows: 3, maxBytes: 10_000_000 },
      { maxRows: 1, maxBytes: 1 },
    ]) {
      const pages = await pagesOf(lines, limits);
      expect(pages.flatMap((p) => p.text.split("\n"))).toEqual(lines);
      for (const page of pages) {
        expect(page.text.split("\n")).toHaveLength(page.rows);
        expect(page.rows).toBeLessThanOrEqual(limits.maxRows);
        // Past maxBytes by at most the page's last line.
        const withoutLast = page.text.slice(0, page.text.lastIndexOf("\n") + 1);
        expect(Buffer.byteLength(withoutLast)).toBeLessThan(limits.maxBytes);
      }
    }
  });
});
