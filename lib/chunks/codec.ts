/**
 * Compression of backup rows: zstd (Node 22's zlib), chosen over gzip by `npm run bench` on the demo data
 * (docs/benchmarks.md): smaller and faster at the level used. Chunks (formats 2 and 3) and, since, the table
 * files of format 1 are zstd; format 1 files written before are gzip, read by their manifest's encoding.
 */
import { once } from "node:events";
import { promisify } from "node:util";
import {
  constants,
  createZstdCompress,
  createZstdDecompress,
  type ZstdCompress,
  zstdDecompress,
} from "node:zlib";

const decompress = promisify(zstdDecompress);

/**
 * Level 1: on the demo data about twice as fast as zstd's default level 3 for a few percent more bytes
 * (often none: `npm run bench`, section chunks), and compression is much of a backup's time.
 */
export const ZSTD_LEVEL = 1;
const PARAMS = { [constants.ZSTD_c_compressionLevel]: ZSTD_LEVEL };

/**
 * A zstd compressor kept for chunk after chunk, each its own frame. A compressor takes its working memory
 * on its first frame and gives it back when closed: one per chunk of 256 KB cost twice the compression
 * itself (`npm run bench`), most of it the kernel handing out and taking back those pages. A frame is
 * written as zstdCompress writes one (the text, then ZSTD_e_end), and a frame starts from nothing, so a
 * chunk's bytes are a fresh compressor's, whatever came before (tests/chunks/codec.test.ts): stored chunks
 * keep matching by size (see ChunkStore.store).
 */
class FrameCompressor {
  // Output buffers of 128 KB: a chunk's compressed bytes come back in one or two, not a dozen of 16 KB.
  private readonly zstd = createZstdCompress({ chunkSize: 128 * 1024, params: PARAMS });
  private out: Buffer[] = [];
  private size = 0;
  /** Set by an error: the compressor's state is unknown, so it is closed, never used again. */
  broken = false;

  constructor() {
    this.zstd.on("data", (b: Buffer) => {
      this.out.push(b);
      this.size += b.length;
    });
    this.zstd.on("error", () => {
      this.broken = true;
    });
  }

  /** The frame of the text `parts` make one after the other, each written as it is. */
  async frame(parts: readonly Buffer[]): Promise<Buffer> {
    for (const part of parts) {
      // once() rejects on an error while waiting, which would otherwise wait for ever.
      if (!this.zstd.write(part)) await once(this.zstd, "drain");
    }
    // The flush's callback runs once its output is pushed: every byte of the frame has been seen by then.
    await new Promise<void>((resolve, reject) =>
      this.zstd.flush(constants.ZSTD_e_end, (err?: Error | null) =>
        err || this.broken ? reject(err ?? new Error("zstd compression failed")) : resolve(),
      ),
    );
    const frame = Buffer.concat(this.out, this.size);
    this.out = [];
    this.size = 0;
    return frame;
  }

  close(): void {
    this.zstd.destroy();
  }
}

/** Compressors not in use; a few at most (the chunks a call has in flight at once), kept for the next. */
const idle: FrameCompressor[] = [];
const MOST_IDLE = 8;

async function compressFrame(parts: readonly Buffer[]): Promise<Buffer> {
  const compressor = idle.pop() ?? new FrameCompressor();
  try {
    return await compressor.frame(parts);
  } finally {
    if (compressor.broken || idle.length >= MOST_IDLE) compressor.close();
    else idle.push(compressor);
  }
}

export function compressChunk(text: Buffer): Promise<Buffer> {
  return compressFrame([text]);
}

/** A zstd stream at the same level, for a format 1 table file built a page at a time. */
export function zstdFileStream(): ZstdCompress {
  return createZstdCompress({ params: PARAMS });
}

/** Texts up to this size are joined and compressed in one write; longer ones are written where they lie. */
const JOIN_BYTES = 4 * 1024 * 1024;

/**
 * The compression of the text `parts` make one after the other. Up to JOIN_BYTES they are joined and
 * written at once (one trip to the thread pool, where a write per part makes one each); a longer text,
 * such as a row holding MBs, is written part by part where it lies instead of copied. Which of the two
 * depends on the text's size alone, never on how it is split into parts, so the same text always makes the
 * same bytes (the store compares sizes: see ChunkStore.store).
 */
export async function compressParts(parts: readonly Buffer[]): Promise<Buffer> {
  let total = 0;
  for (const part of parts) total += part.length;
  if (total > JOIN_BYTES) return compressFrame(parts);
  return compressChunk(parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, total));
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
