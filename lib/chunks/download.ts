/**
 * A chunked backup's table (or one chunk of it) handed out as the per-table file format 1 used: JSON lines
 * of column texts, gzip-compressed, so that what a person downloads reads the same whatever the layout.
 * Every chunk is checked first (SHA-256 of its text, its row count): a damaged one answers 422 naming it
 * before any byte is sent. Then the rows are streamed, a chunk at a time, through gzip.
 */
import { Readable } from "node:stream";
import { createGzip } from "node:zlib";
import type { ManifestFile } from "../backup/manifest.ts";
import { readVerifiedPages } from "../backup/reader.ts";
import type { BackupStorage } from "../storage/port.ts";

const PAGE = { maxRows: 10_000, maxBytes: 1024 * 1024 };
const NEWLINE = Buffer.from("\n");

export async function checkedRowsAsGzip(
  storage: BackupStorage,
  files: ManifestFile[],
): Promise<ReadableStream<Uint8Array>> {
  for (const file of files) for await (const _ of readVerifiedPages(storage, file, PAGE));
  async function* lines() {
    for (const file of files) {
      for await (const page of readVerifiedPages(storage, file, PAGE)) {
        yield* page.data;
        yield NEWLINE;
      }
    }
  }
  const gzip = Readable.from(lines()).pipe(createGzip({ level: 4 }));
  return Readable.toWeb(gzip) as ReadableStream<Uint8Array>;
}
