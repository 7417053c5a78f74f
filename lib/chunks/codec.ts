/**
 * Compression of chunks: zstd (Node 22's zlib), chosen over gzip by `npm run bench` on the demo data
 * (docs/benchmarks.md): smaller and faster at the level used. Table files of format 1 stay gzip.
 */
import { promisify } from "node:util";
import { constants, zstdCompress, zstdDecompress } from "node:zlib";

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

export function decompressChunk(data: Uint8Array): Promise<Buffer> {
  return decompress(data);
}
