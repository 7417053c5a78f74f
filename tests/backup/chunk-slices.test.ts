/**
 * A table's slice of a chunk it shares with other tables, read back in pages: exactly its lines, however
 * they fall across the decompressor's pieces (256 KB each); the whole chunk's line count is checked.
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { ManifestFile } from "../../lib/backup/manifest.ts";
import { readVerifiedPages } from "../../lib/backup/reader.ts";
import { compressChunk } from "../../lib/chunks/codec.ts";
import type { BackupStorage } from "../../lib/storage/port.ts";

const PATH = `tenant-backups/t1/chunks/${"b".repeat(64)}.jsonl.zst`;

async function chunkOf(lines: string[]) {
  const text = Buffer.from(`${lines.join("\n")}\n`);
  const stored = await compressChunk(text);
  const storage = { get: async () => stored } as unknown as BackupStorage;
  const sha256 = createHash("sha256").update(text).digest("hex");
  return { storage, file: { path: PATH, bytes: stored.length, sha256, last_key: null } };
}

async function linesOf(
  storage: BackupStorage,
  file: ManifestFile,
  limits = { maxRows: 7, maxBytes: 100_000 },
) {
  const out: string[] = [];
  for await (const page of readVerifiedPages(storage, file, limits)) {
    const text = Buffer.concat(page.data).toString("utf8");
    expect(text.split("\n")).toHaveLength(page.rows);
    out.push(...text.split("\n"));
  }
  return out;
}

describe("a slice of a shared chunk", () => {
  // Short rows, and rows of 10 to 130 KB that go on from one 256 KB piece into the next.
  const lines = [
    ...Array.from({ length: 300 }, (_, i) => JSON.stringify(["a", String(i)])),
    ...Array.from({ length: 25 }, (_, i) => JSON.stringify(["b", "é".repeat(5_000 + i * 2_500)])),
    ...Array.from({ length: 3_000 }, (_, i) => JSON.stringify(["c", String(i), "z".repeat(40)])),
  ];

  it("hands out exactly its lines, wherever they fall in the decompressed pieces", async () => {
    const { storage, file } = await chunkOf(lines);
    for (const [first, rows] of [
      [0, 300],
      [300, 25],
      [325, 3_000],
      [0, 1],
      [lines.length - 1, 1],
      [299, 2],
      [310, 1_000],
      [0, lines.length],
    ] as const) {
      const slice = { ...file, rows, slice: { first, of: lines.length } };
      expect(await linesOf(storage, slice), `${first}+${rows}`).toEqual(lines.slice(first, first + rows));
    }
  });

  it("is refused (422 naming the chunk) when the chunk holds another number of lines", async () => {
    const { storage, file } = await chunkOf(lines);
    const slice = { ...file, rows: 25, slice: { first: 300, of: lines.length + 1 } };
    await expect(linesOf(storage, slice)).rejects.toMatchObject({
      code: "unprocessable",
      details: { file: PATH },
      message: expect.stringContaining(`holds ${lines.length} rows, the summary says ${lines.length + 1}`),
    });
  });
});
