/**
 * Chunks are compressed by compressors kept from chunk to chunk (lib/chunks/codec.ts). A stored chunk is
 * matched by its size (ChunkStore.store), so a chunk's bytes must be those a fresh compressor makes, as
 * every earlier version made them, whatever the kept compressor did before and however many run at once.
 */
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { constants, createZstdCompress, zstdCompress, zstdDecompressSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { compressChunk, compressParts, ZSTD_LEVEL } from "../../lib/chunks/codec.ts";

const PARAMS = { [constants.ZSTD_c_compressionLevel]: ZSTD_LEVEL };

/** What every earlier version wrote for a text of up to 4 MB: one call of zstdCompress. */
const freshOneCall = (text: Buffer) =>
  promisify(zstdCompress)(text, { chunkSize: 128 * 1024, params: PARAMS });

/**
 * What every earlier version wrote for a longer text: a fresh stream, written part by part (each write
 * taken in before the next), then ended.
 */
async function freshStream(parts: Buffer[]): Promise<Buffer> {
  const zstd = createZstdCompress({ params: PARAMS });
  const out: Buffer[] = [];
  zstd.on("data", (b: Buffer) => out.push(b));
  const ended = new Promise<Buffer>((resolve, reject) => {
    zstd.on("end", () => resolve(Buffer.concat(out)));
    zstd.on("error", reject);
  });
  for (const part of parts) {
    if (!zstd.write(part)) await new Promise((resolve) => zstd.once("drain", resolve));
  }
  zstd.end();
  return ended;
}

/** Row-like text (compresses well) or random bytes (does not: output larger than one output buffer). */
function textOf(size: number, kind: "rows" | "random", seed = 0): Buffer {
  if (kind === "random") return randomBytes(size);
  const rows: string[] = [];
  let length = 0;
  for (let i = seed; length <= size; i++) {
    const row = `${i}\tcustomer ${(i * 7919) % 100_003}\t2026-0${(i % 9) + 1}-1${i % 10} 10:00:00+00\t{"n": ${i}}\n`;
    rows.push(row);
    length += row.length;
  }
  return Buffer.from(rows.join("")).subarray(0, size);
}

describe("chunk compression with kept compressors", () => {
  it("writes the bytes a fresh compressor writes, for every size up to 4 MB, after any earlier frame", async () => {
    const sizes = [0, 1, 1000, 131_072, 131_073, 300_000, 1_048_576, 4 * 1024 * 1024];
    for (const kind of ["rows", "random"] as const) {
      for (const size of sizes) {
        const text = textOf(size, kind, size);
        const made = await compressChunk(text);
        expect(made.equals(await freshOneCall(text)), `${kind}, ${size} bytes`).toBe(true);
        expect(zstdDecompressSync(made).equals(text)).toBe(true);
      }
    }
  });

  it("writes a text over 4 MB part by part as a fresh stream did, and any split of a text up to 4 MB as one", async () => {
    const parts = [textOf(3_000_000, "rows"), textOf(2_500_000, "random"), textOf(10, "rows")];
    const made = await compressParts(parts);
    expect(made.equals(await freshStream(parts))).toBe(true);
    expect(zstdDecompressSync(made).equals(Buffer.concat(parts))).toBe(true);

    const small = [textOf(200_000, "rows", 1), textOf(70_000, "random"), textOf(5, "rows", 2)];
    const joined = Buffer.concat(small);
    expect((await compressParts(small)).equals(await freshOneCall(joined))).toBe(true);
  });

  it("gives each of many chunks compressed at once its own frame, the same as alone", async () => {
    const texts = Array.from({ length: 24 }, (_, i) =>
      textOf(50_000 + i * 20_011, i % 3 ? "rows" : "random", i),
    );
    const made = await Promise.all(texts.map((text) => compressChunk(text)));
    for (const [i, text] of texts.entries()) {
      expect(zstdDecompressSync(made[i] as Buffer).equals(text), `chunk ${i}`).toBe(true);
      expect((made[i] as Buffer).equals(await freshOneCall(text)), `chunk ${i}`).toBe(true);
    }
  });
});
