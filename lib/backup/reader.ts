/**
 * Reading a backup back from storage: the manifest, and each file's rows after its SHA-256 and row count
 * have been checked. A damaged file is reported by name, never half read.
 */
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import { createGunzip, gunzipSync } from "node:zlib";
import { fail } from "../errors.ts";
import type { BackupStorage } from "../storage/port.ts";
import { StorageError } from "../storage/port.ts";
import { type Manifest, type ManifestFile, manifestSchema } from "./manifest.ts";

export async function readManifest(storage: BackupStorage, path: string): Promise<Manifest> {
  let bytes: Uint8Array;
  try {
    bytes = await storage.get(path);
  } catch (err) {
    if (err instanceof StorageError && err.code === "not_found")
      throw fail("not_found", `no backup summary at ${path}`);
    throw err;
  }
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
  return result.data;
}

/** The stored (compressed) bytes of a file, checked against the manifest's size and SHA-256. */
async function verifiedBytes(storage: BackupStorage, file: ManifestFile): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = await storage.get(file.path);
  } catch (err) {
    if (err instanceof StorageError && err.code === "not_found") {
      throw fail("unprocessable", `backup file ${file.path} is missing`, { file: file.path });
    }
    throw err;
  }
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  if (bytes.byteLength !== file.bytes || sha256 !== file.sha256) {
    throw fail(
      "unprocessable",
      `backup file ${file.path} is damaged: its checksum does not match the summary`,
      {
        file: file.path,
      },
    );
  }
  return bytes;
}

function rowCountMismatch(file: ManifestFile, rows: number) {
  return fail("unprocessable", `backup file ${file.path} holds ${rows} rows, the summary says ${file.rows}`, {
    file: file.path,
  });
}

/** The file's text, checked against the manifest; 422 naming the file when anything differs. */
export async function readVerifiedFile(storage: BackupStorage, file: ManifestFile): Promise<string> {
  const bytes = await verifiedBytes(storage, file);
  let text: string;
  try {
    text = gunzipSync(bytes).toString("utf8");
  } catch {
    throw fail("unprocessable", `backup file ${file.path} is damaged: not valid gzip`, { file: file.path });
  }
  const rows = text === "" ? 0 : text.split("\n").length - 1;
  if (rows !== file.rows) throw rowCountMismatch(file, rows);
  return text;
}

/**
 * The file's rows in pages of at most `maxRows` lines and about `maxBytes` of text, decompressed as they
 * are read: only the compressed file and one page are in memory, whatever the file's size. The checksum
 * is checked before the first page; the row count after the last (422 naming the file either way).
 */
export async function* readVerifiedPages(
  storage: BackupStorage,
  file: ManifestFile,
  limits: { maxRows: number; maxBytes: number },
): AsyncGenerator<{ rows: number; lines: string }> {
  const bytes = await verifiedBytes(storage, file);
  const decoder = new StringDecoder("utf8");
  let page: string[] = [];
  let pageBytes = 0;
  let partial = "";
  let total = 0;
  try {
    for await (const chunk of Readable.from([bytes]).pipe(createGunzip())) {
      const lines = (partial + decoder.write(chunk as Buffer)).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) {
        page.push(line);
        pageBytes += line.length + 1;
        if (page.length >= limits.maxRows || pageBytes >= limits.maxBytes) {
          total += page.length;
          yield { rows: page.length, lines: page.join("\n") };
          page = [];
          pageBytes = 0;
        }
      }
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code?.startsWith("Z_")) {
      throw fail("unprocessable", `backup file ${file.path} is damaged: not valid gzip`, { file: file.path });
    }
    throw err;
  }
  if (partial + decoder.end() !== "") {
    throw fail("unprocessable", `backup file ${file.path} is damaged: its last line is cut`, {
      file: file.path,
    });
  }
  if (page.length > 0) {
    total += page.length;
    yield { rows: page.length, lines: page.join("\n") };
  }
  if (total !== file.rows) throw rowCountMismatch(file, total);
}

/** Splits a verified file's text into rows of column texts (null for SQL NULL). */
export function parseRows(text: string): (string | null)[][] {
  if (text === "") return [];
  return text
    .slice(0, -1)
    .split("\n")
    .map((line) => JSON.parse(line) as (string | null)[]);
}
