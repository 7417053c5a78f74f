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
  return compress(text, { params: { [constants.ZSTD_c_compressionLevel]: ZSTD_LEVEL } });
}

/** A zstd stream at the same level, for a format 1 table file built a page at a time. */
export function zstdFileStream(): ZstdCompress {
  return createZstdCompress({ params: { [constants.ZSTD_c_compressionLevel]: ZSTD_LEVEL } });
}

/**
 * The same compression of the text `parts` make one after the other, without joining them first: a row
 * holding MBs is compressed where it lies. (The frame may differ from compressChunk's; both decompress
 * to the same text.)
 */
export async function compressParts(parts: readonly Buffer[]): Promise<Buffer> {
  if (parts.length === 1) return compressChunk(parts[0] as Buffer);
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
