/**
 * Reading a backup back from storage: the manifest, and each file's rows after its SHA-256 and row count
 * have been checked. A damaged file is reported by name, never half read.
 */
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { createGunzip, createZstdDecompress } from "node:zlib";
import { decompressChunkParts } from "../chunks/codec.ts";
import { isChunkPath, isTenantChunkPath, isTenantFileBlobPath } from "../chunks/paths.ts";
import { type AppError, fail } from "../errors.ts";
import type { BackupStorage } from "../storage/port.ts";
import { StorageError } from "../storage/port.ts";
import { copyPiecesToLine, copyTextToLine } from "./copy-text.ts";
import { joinLines, LineSplitter, textParts } from "./lines.ts";
import { type Manifest, type ManifestFile, type ManifestSlice, manifestSchema } from "./manifest.ts";
import { datePrefix, parseSummaryPath } from "./paths.ts";

const NEWLINE = 0x0a;

/** A storage read whose "no such object" becomes `missing` (what it means to the caller); other errors pass. */
export function whenMissing<T>(read: Promise<T>, missing: () => AppError): Promise<T> {
  return read.catch((err) => {
    throw err instanceof StorageError && err.code === "not_found" ? missing() : err;
  });
}

/** A file the summary lists is not in storage: the backup is damaged (422), not absent. */
export function missingFile(path: string): AppError {
  return fail("unprocessable", `backup file ${path} is missing`, { file: path });
}

function damagedFile(path: string): AppError {
  return fail("unprocessable", `backup file ${path} is damaged: its checksum does not match the summary`, {
    file: path,
  });
}

export async function readManifest(storage: BackupStorage, path: string): Promise<Manifest> {
  const bytes = await whenMissing(storage.get(path), () => fail("not_found", `no backup summary at ${path}`));
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch {
    throw fail("unprocessable", `backup summary ${path} is not valid JSON`, { file: path });
  }
  const result = manifestSchema.safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw fail(
      "unprocessable",
      `backup summary ${path} is damaged or of an unknown format: ${issue?.path.join(".")} ${issue?.message}`,
      {
        file: path,
      },
    );
  }
  assertBelongsWhereFound(result.data, path);
  return result.data;
}

/**
 * A summary is only good for the tenant, day and backup its path names, and only names files of that
 * backup: one copied into another tenant's folder (or edited) would otherwise restore that tenant's rows,
 * or read another backup's files, under this tenant's name.
 */
function assertBelongsWhereFound(manifest: Manifest, path: string): void {
  const where = parseSummaryPath(path);
  const mismatch = (what: string) =>
    fail("unprocessable", `backup summary ${path} does not belong where it was found: ${what}`, {
      file: path,
    });
  if (!where) throw mismatch("not a summary path");
  if (manifest.organization_id !== where.tenantId) throw mismatch("it is of another organization");
  if (manifest.backup_date !== where.date) throw mismatch("it is of another day");
  if (manifest.backup_id !== where.backupId) throw mismatch("it is of another backup");
  const folder = `${datePrefix(where.tenantId, where.date)}${where.backupId}/`;
  // Format 2 names chunks, which only the tenant's own chunk folder may hold; format 1 its own files, of
  // the codec its encoding says (readers pick a file's codec by its suffix).
  const inside =
    manifest.format_version === 1
      ? (path: string) =>
          path.startsWith(folder) &&
          !path.slice(folder.length).includes("/") &&
          path.endsWith(SUFFIX_OF[manifest.encoding])
      : (path: string) => isTenantChunkPath(where.tenantId, path);
  for (const table of manifest.tables) {
    for (const file of table.files) {
      if (!inside(file.path)) throw mismatch(`it names file ${file.path} outside its backup`);
      // Slices are of chunks; a format 1 file is one table's, whole.
      if (file.slice && manifest.format_version === 1)
        throw mismatch(`it names a slice of file ${file.path}`);
    }
  }
  // Tenant files: copies only from the tenant's chunk folder, put back only inside the tenant's folders.
  for (const file of manifest.files?.objects ?? []) {
    if (!isTenantFileBlobPath(where.tenantId, file.stored_as)) {
      throw mismatch(`it names file ${file.stored_as} outside its backup`);
    }
    const folder = manifest.files?.buckets.find((b) => b.bucket === file.bucket);
    if (!folder || !file.path.startsWith(folder.prefix)) {
      throw mismatch(`it names ${file.bucket}/${file.path} outside the tenant's folder`);
    }
  }
}

/** The suffix of every table file of a format 1 backup, by its encoding. */
const SUFFIX_OF = {
  "jsonl-text-array+zstd": ".jsonl.zst",
  "jsonl-text-array+gzip": ".jsonl.gz",
} as const;

/**
 * A chunk's text (a chunk is at most a few MB, or one long row), decompressed whole as the decompressor's
 * pieces and checked against the manifest's SHA-256 of that text before anything is handed out.
 */
async function verifiedChunkText(storage: BackupStorage, file: ManifestFile): Promise<Buffer[]> {
  const stored = await whenMissing(storage.get(file.path), () => missingFile(file.path));
  let parts: Buffer[];
  try {
    parts = await decompressChunkParts(stored);
  } catch {
    throw fail("unprocessable", `backup file ${file.path} is damaged: not valid zstd`, { file: file.path });
  }
  const hash = createHash("sha256");
  for (const part of parts) hash.update(part);
  if (hash.digest("hex") !== file.sha256) throw damagedFile(file.path);
  return parts.filter((part) => part.length > 0);
}

/**
 * The verified text of the last chunk small tables share (lib/backup/small-tables.ts), for the tables after
 * the first: one reader (a restore, a drill) given it reads such a chunk once, not once per table; through
 * a storage far away each read is a request. Only that one chunk is kept: a chunk is at most a few MB.
 */
export class SharedChunkText {
  private last: { path: string; sha256: string; text: Promise<Buffer[]> } | null = null;

  of(storage: BackupStorage, file: ManifestFile): Promise<Buffer[]> {
    if (this.last?.path === file.path && this.last.sha256 === file.sha256) return this.last.text;
    const text = verifiedChunkText(storage, file);
    const last = { path: file.path, sha256: file.sha256, text };
    this.last = last;
    // A failed read is tried again by the next table, not remembered.
    text.catch(() => {
      if (this.last === last) this.last = null;
    });
    return text;
  }
}

/** The stored (compressed) bytes of a file, checked against the manifest's size and SHA-256. */
async function verifiedBytes(storage: BackupStorage, file: ManifestFile): Promise<Uint8Array> {
  const bytes = await whenMissing(storage.get(file.path), () => missingFile(file.path));
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  if (bytes.byteLength !== file.bytes || sha256 !== file.sha256) throw damagedFile(file.path);
  return bytes;
}

/**
 * The stored (compressed) file as a stream, for sending on: a first pass reads it through to check its
 * size and SHA-256 against the manifest (422 naming the file when they differ), a second is answered.
 * Only a chunk at a time is in memory (see the backend's getStream), whatever the file's size.
 */
export async function verifiedStream(
  storage: BackupStorage,
  file: ManifestFile,
): Promise<ReadableStream<Uint8Array>> {
  const open = () => whenMissing(storage.getStream(file.path), () => missingFile(file.path));
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of (await open()) as unknown as AsyncIterable<Uint8Array>) {
    hash.update(chunk);
    size += chunk.byteLength;
  }
  if (size !== file.bytes || hash.digest("hex") !== file.sha256) throw damagedFile(file.path);
  return open();
}

function rowCountMismatch(file: ManifestFile, rows: number, expected = file.rows) {
  return fail("unprocessable", `backup file ${file.path} holds ${rows} rows, the summary says ${expected}`, {
    file: file.path,
  });
}

/** A page of a file's rows: `rows` of them, "\n" between them, in the buffers of `data` one after the other. */
export interface VerifiedPage {
  rows: number;
  data: Buffer[];
  /** True: each row as COPY's text format writes it; false: as a backup line (a JSON array of texts). */
  copy: boolean;
}

/**
 * The file's rows in pages of at most `maxRows` lines and about `maxBytes` of text, decompressed as they
 * are read: only the compressed file and one page are in memory, whatever the file's size. A page is its
 * lines' UTF-8 bytes joined by "\n" (no trailing one), never decoded to a string, as the buffers that hold
 * it one after the other (views of the chunk's text, never copies of it): a 5 MB value is then held once.
 * The checksum is checked before the first page; the row count after the last (422 naming the file
 * either way). A chunk tables share is read through `shared` when given (see SharedChunkText).
 *
 * With `copyText`, a chunk of COPY rows (format 3) is paged as those rows, as stored (`copy: true`), not
 * turned into lines first: for a reader that writes them on as COPY rows (typed staging), which then holds
 * the chunk's text alone, not its lines as well. Every other file is paged as lines (`copy: false`).
 */
export async function* readVerifiedPages(
  storage: BackupStorage,
  file: ManifestFile,
  limits: { maxRows: number; maxBytes: number },
  shared?: SharedChunkText,
  options: { copyText?: boolean } = {},
): AsyncGenerator<VerifiedPage> {
  if (isChunkPath(file.path)) {
    let text = await (file.slice && shared ? shared.of(storage, file) : verifiedChunkText(storage, file));
    text = file.slice ? sliceOf(text, file, file.slice) : wholeLines(text, file);
    const copy = file.text === "copy" && options.copyText === true;
    // One variable: while the pages are read, only the lines are held, not the chunk's COPY text too.
    if (file.text === "copy" && !copy) text = asLines(text);
    yield* chunkPages(text, file, limits, copy);
    return;
  }
  const bytes = await verifiedBytes(storage, file);
  // The manifest's encoding fixed the suffix (readManifest): zstd files, or gzip ones written before.
  const zstd = file.path.endsWith(SUFFIX_OF["jsonl-text-array+zstd"]);
  const splitter = new LineSplitter();
  let page: Buffer[] = [];
  let pageBytes = 0;
  let total = 0;
  try {
    for await (const chunk of Readable.from([bytes]).pipe(zstd ? createZstdDecompress() : createGunzip())) {
      for (const line of splitter.push(chunk as Buffer)) {
        page.push(line);
        pageBytes += line.length + 1;
        if (page.length >= limits.maxRows || pageBytes >= limits.maxBytes) {
          total += page.length;
          const rows = page.length;
          const data = [joinLines(page, false)];
          page = [];
          pageBytes = 0;
          yield { rows, data, copy: false };
        }
      }
    }
  } catch (err) {
    if (/^(Z_|ZSTD_)/.test((err as NodeJS.ErrnoException).code ?? "")) {
      throw fail(
        "unprocessable",
        `backup file ${file.path} is damaged: not valid ${zstd ? "zstd" : "gzip"}`,
        {
          file: file.path,
        },
      );
    }
    throw err;
  }
  if (splitter.end().length !== 0) {
    throw fail("unprocessable", `backup file ${file.path} is damaged: its last line is cut`, {
      file: file.path,
    });
  }
  if (page.length > 0) {
    total += page.length;
    yield { rows: page.length, data: [joinLines(page, false)], copy: false };
  }
  if (total !== file.rows) throw rowCountMismatch(file, total);
}

/** The chunk's text, which must end with a whole line (a line cut short would be read as another row). */
function wholeLines(parts: Buffer[], file: ManifestFile): Buffer[] {
  const last = parts.at(-1);
  if (last && last[last.length - 1] !== NEWLINE) {
    throw fail("unprocessable", `backup file ${file.path} is damaged: its last line is cut`, {
      file: file.path,
    });
  }
  return parts;
}

/**
 * Text of COPY rows (whole ones, each ending in "\n") as the text of their lines, each ending in "\n": every
 * reader takes lines. A chunk is at most a few MB, or one long row, so it is turned whole. Takes `parts`
 * over (an array of its caller's own): each is let go once read, and a row that spans parts is turned from
 * its pieces, never joined, so that a row of MBs is held as its pieces and its line, not also as itself.
 */
function asLines(parts: Buffer[]): Buffer[] {
  const splitter = new LineSplitter(copyTextToLine, copyPiecesToLine);
  const lines: Buffer[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as Buffer;
    parts[i] = EMPTY;
    for (const line of splitter.push(part)) lines.push(line);
  }
  return textParts(lines);
}

const EMPTY = Buffer.alloc(0);

/**
 * The table's lines of a chunk it shares with other tables: views of the chunk's text from line
 * `slice.first`, `file.rows` of them, after the whole chunk's line count has been checked against the
 * summary's (its text was checked by SHA-256 already). No line of another table is in what it answers.
 */
function sliceOf(parts: Buffer[], file: ManifestFile, slice: ManifestSlice): Buffer[] {
  wholeLines(parts, file);
  const end = slice.first + file.rows;
  const views: Buffer[] = [];
  /** The number of the line the reading position is in: the newlines passed so far. */
  let line = 0;
  for (const part of parts) {
    // Where in this part the slice's text starts, or -1 while the position is outside the slice.
    let from = line >= slice.first && line < end ? 0 : -1;
    for (let at = part.indexOf(NEWLINE); at !== -1; at = part.indexOf(NEWLINE, at + 1)) {
      line += 1;
      if (line === end && from !== -1) {
        views.push(part.subarray(from, at + 1));
        from = -1;
      } else if (line === slice.first && line < end) {
        from = at + 1;
      }
    }
    if (from !== -1 && from < part.length) views.push(part.subarray(from));
  }
  if (line !== slice.of) throw rowCountMismatch(file, line, slice.of);
  return views;
}

/** A chunk's pages: views of its text (the decompressor's pieces), which is held once. */
function* chunkPages(
  parts: Buffer[],
  file: ManifestFile,
  limits: { maxRows: number; maxBytes: number },
  copy: boolean,
): Generator<VerifiedPage> {
  let rows = 0;
  for (const part of parts) {
    for (let at = part.indexOf(NEWLINE); at !== -1; at = part.indexOf(NEWLINE, at + 1)) rows += 1;
  }
  if (rows !== file.rows) throw rowCountMismatch(file, rows);
  // The reading position: part `p`, byte `o` of it.
  let p = 0;
  let o = 0;
  while (p < parts.length) {
    const data: Buffer[] = [];
    let count = 0;
    let bytes = 0;
    // Whole lines, up to maxRows of them, ending with the first whose end reaches maxBytes: the limits
    // are looked at between lines only, never inside one that goes on in the next part.
    while (p < parts.length && count < limits.maxRows && (count === 0 || bytes < limits.maxBytes)) {
      let part = parts[p] as Buffer;
      let end = part.indexOf(NEWLINE, o);
      while (end === -1) {
        // The line goes on in the next part.
        data.push(part.subarray(o));
        bytes += part.length - o;
        p += 1;
        o = 0;
        part = parts[p] as Buffer;
        end = part.indexOf(NEWLINE);
      }
      data.push(part.subarray(o, end + 1));
      bytes += end + 1 - o;
      count += 1;
      o = end + 1;
      if (o === part.length) {
        p += 1;
        o = 0;
      }
    }
    // Views of whole lines, each ending in "\n": the page ends without the last one.
    const tail = data.pop() as Buffer;
    if (tail.length > 1) data.push(tail.subarray(0, tail.length - 1));
    yield { rows: count, data: merged(data), copy };
  }
}

/** Adjacent views of one part are one view (a page of short rows is then one buffer, not one per row). */
function merged(views: Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  for (const view of views) {
    const prev = out.at(-1);
    if (prev && prev.buffer === view.buffer && prev.byteOffset + prev.length === view.byteOffset) {
      out[out.length - 1] = Buffer.from(prev.buffer, prev.byteOffset, prev.length + view.length);
    } else {
      out.push(view);
    }
  }
  return out;
}
