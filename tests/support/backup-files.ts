/**
 * Reading a backup file whole, for tests that compare what a backup holds: through the same checked
 * reader a restore uses (lib/backup/reader.ts), one page for the whole file.
 */
import { createHash } from "node:crypto";
import type { Manifest, ManifestFile } from "../../lib/backup/manifest.ts";
import { readManifest, readVerifiedPages } from "../../lib/backup/reader.ts";
import { compressChunk } from "../../lib/chunks/codec.ts";
import { chunkKey, chunkName } from "../../lib/chunks/key.ts";
import { chunkPath } from "../../lib/chunks/paths.ts";
import { encryptionOf } from "../../lib/crypto/encrypting-storage.ts";
import type { Services } from "../../lib/services.ts";
import type { BackupStorage } from "../../lib/storage/port.ts";

/** The file's text ("\n" after every row), checked against the manifest like a restore checks it. */
export async function readVerifiedFile(storage: BackupStorage, file: ManifestFile): Promise<string> {
  const whole = { maxRows: Number.MAX_SAFE_INTEGER, maxBytes: Number.MAX_SAFE_INTEGER };
  let text = "";
  for await (const page of readVerifiedPages(storage, file, whole))
    text += `${Buffer.concat(page.data).toString("utf8")}\n`;
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

/** The tenant's one backup summary, read; fails unless the tenant has exactly one. */
export async function onlyManifest(storage: BackupStorage, tenantId: string): Promise<Manifest> {
  const summaries = (await storage.list(`tenant-backups/${tenantId}/`)).filter((o) =>
    o.path.includes("/summary-"),
  );
  if (summaries.length !== 1) throw new Error(`${tenantId} has ${summaries.length} backup summaries, not 1`);
  return readManifest(storage, (summaries[0] as { path: string }).path);
}

/** Rows per table as counted in the files themselves, beside what the manifest says. */
export async function rowCounts(storage: BackupStorage, manifest: Manifest) {
  const inFiles: Record<string, number> = {};
  const inManifest: Record<string, number> = {};
  for (const table of manifest.tables) {
    inManifest[table.name] = table.row_count;
    let rows = 0;
    for (const file of table.files) rows += parseRows(await readVerifiedFile(storage, file)).length;
    inFiles[table.name] = rows;
  }
  return { inFiles, inManifest };
}

/**
 * A chunk of lines stored as format 2 wrote them (format 3 writes COPY text): named, compressed and
 * checked the same way; its entry has no `text`. For tests of backups written before format 3.
 */
export async function storeLinesChunk(
  services: Services,
  tenantId: string,
  lines: string[],
): Promise<ManifestFile> {
  const text = Buffer.from(lines.map((l) => `${l}\n`).join(""));
  const digest = createHash("sha256").update(text).digest();
  const name = chunkName(await chunkKey(services), digest, encryptionOf(services.storage)?.key_id);
  const path = chunkPath(tenantId, name);
  const data = await compressChunk(text);
  await services.storage.put(path, data, "application/zstd");
  return {
    path,
    rows: lines.length,
    bytes: data.byteLength,
    sha256: digest.toString("hex"),
    last_key: [String(lines.length)],
  };
}
