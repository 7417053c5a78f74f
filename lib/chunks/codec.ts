/**
 * Compression of backup rows: zstd (Node 22's zlib), chosen over gzip by `npm run bench` on the demo data
 * (docs/benchmarks.md): smaller and faster at the level used. Chunks (format 2) and, since, the table
 * files of format 1 are zstd; format 1 files written before are gzip, read by their manifest's encoding.
 */
import { promisify } from "node:util";
import { constants, createZstdCompress, type ZstdCompress, zstdCompress, zstdDecompress } from "node:zlib";

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

export function decompressChunk(data: Uint8Array): Promise<Buffer> {
  return decompress(data);
}
