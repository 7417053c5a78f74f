/**
 * Reading a backup file whole, for tests that compare what a backup holds: through the same checked
 * reader a restore uses (lib/backup/reader.ts), one page for the whole file.
 */
import type { ManifestFile } from "../../lib/backup/manifest.ts";
import { readVerifiedPages } from "../../lib/backup/reader.ts";
import type { BackupStorage } from "../../lib/storage/port.ts";

/** The file's text ("\n" after every row), checked against the manifest like a restore checks it. */
export async function readVerifiedFile(storage: BackupStorage, file: ManifestFile): Promise<string> {
  const whole = { maxRows: Number.MAX_SAFE_INTEGER, maxBytes: Number.MAX_SAFE_INTEGER };
  let text = "";
  for await (const page of readVerifiedPages(storage, file, whole)) text += `${page.lines}\n`;
  return text;
}

/** Splits a file's text into rows of column texts (null for SQL NULL). */
export function parseRows(text: string): (string | null)[][] {
  if (text === "") return [];
  return text
    .slice(0, -1)
    .split("\n")
    .map((line) => JSON.parse(line) as (string | null)[]);
}
