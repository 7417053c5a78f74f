/**
 * Compression of backup rows: zstd (Node 22's zlib), chosen over gzip by `npm run bench` on the demo data
 * (docs/benchmarks.md): smaller and faster at the level used. Chunks (format 2) and, since, the table
 * files of format 1 are zstd; format 1 files written before are gzip, read by their manifest's encoding.
 */
import { promisify } from "node:util";
import {
  constants,
  createZstdCompress,
  createZstdDecompress,
  type ZstdCompress,
  zstdCompress,
  zstdDecompress,
} from "node:zlib";

const compress = promisify(zstdCompress);
const decompress = promisify(zstdDecompress);

/**
 * Level 1: on the demo data about twice as fast as zstd's default level 3 for a few percent more bytes
 * (often none: `npm run bench`, section chunks), and compression is much of a backup's time.
 */
export const ZSTD_LEVEL = 1;

export function compressChunk(text: Buffer): Promise<Buffer> {
  // Output buffers of 128 KB: a chunk's compressed bytes come back in one or two, not a dozen of 16 KB.
  return compress(text, {
    chunkSize: 128 * 1024,
    params: { [constants.ZSTD_c_compressionLevel]: ZSTD_LEVEL },
  });
}

/** A zstd stream at the same level, for a format 1 table file built a page at a time. */
export function zstdFileStream(): ZstdCompress {
  return createZstdCompress({ params: { [constants.ZSTD_c_compressionLevel]: ZSTD_LEVEL } });
}

/** Texts up to this size are joined and compressed in one call; longer ones are streamed where they lie. */
const JOIN_BYTES = 4 * 1024 * 1024;

/**
 * The compression of the text `parts` make one after the other. Up to JOIN_BYTES they are joined and
 * compressed in one call (one trip to the thread pool, where a stream makes one per 16 KB it writes out);
 * a longer text, such as a row holding MBs, is streamed where it lies instead of copied. Which of the two
 * depends on the text's size alone, never on how it is split into parts, so the same text always makes the
 * same bytes (the store compares sizes: see ChunkStore.store).
 */
export async function compressParts(parts: readonly Buffer[]): Promise<Buffer> {
  let total = 0;
  for (const part of parts) total += part.length;
  if (total <= JOIN_BYTES)
    return compressChunk(parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, total));
  const zstd = createZstdCompress({ params: { [constants.ZSTD_c_compressionLevel]: ZSTD_LEVEL } });
  const out: Buffer[] = [];
  let size = 0;
  const done = new Promise<void>((resolve, reject) => {
    zstd.on("data", (b: Buffer) => {
      out.push(b);
      size += b.length;
    });
    zstd.on("end", resolve);
    zstd.on("error", reject);
  });
  for (const part of parts) {
    if (!zstd.write(part)) await new Promise((resolve) => zstd.once("drain", resolve));
  }
  zstd.end();
  await done;
  return Buffer.concat(out, size);
}

export function decompressChunk(data: Uint8Array): Promise<Buffer> {
  return decompress(data);
}

/**
 * The chunk's text as the pieces the decompressor wrote it in, not joined: a reader that hashes and sends
 * the text piece by piece then never holds a row of MBs twice.
 */
export function decompressChunkParts(data: Uint8Array): Promise<Buffer[]> {
  const zstd = createZstdDecompress({ chunkSize: 256 * 1024 });
  const parts: Buffer[] = [];
  return new Promise((resolve, reject) => {
    zstd.on("data", (b: Buffer) => parts.push(b));
    zstd.on("end", () => resolve(parts));
    zstd.on("error", reject);
    zstd.end(data);
  });
}
