/**
 * GET /.netlify/functions/download-backup?organization_id=…&backup_id=…[&file=<name>]
 * One object of a backup: the summary (manifest) when `file` is absent, else the table file `file`
 * names — as listed in the manifest, by its name (`customers.0000.jsonl.zst`; `.jsonl.gz` in backups
 * written before table files were zstd) or its full path, as it is stored. A whole
 * backup is its summary plus the files the summary lists: fetch them one by one (no tar: a tenant's
 * backup can be far larger than a function may send or hold).
 *
 * - Supabase Storage without encryption keys: 200 JSON with a signed URL valid DOWNLOAD_URL_TTL_SECONDS;
 *   the browser fetches the file from Storage directly, so nothing large passes through the function.
 * - Local storage, or any storage once BACKUP_ENCRYPTION_KEY / BACKUP_DECRYPTION_KEYS are set: the file
 *   itself, decrypted, streamed from storage (never one buffered body over Netlify's 6 MB), after a first
 *   pass over it has checked its SHA-256 against the manifest (422 when it differs). A signed URL would
 *   hand out ciphertext, and only this function, after checking the caller, holds the keys.
 *
 * A chunked backup (format 2 or 3) has no per-table files: `file` names a table (`customers` or
 * `customers.jsonl.gz`) or one chunk the manifest lists (its path or name; 400 for a chunk that small
 * tables share, which holds rows of several: ask for the table), and the answer is those rows
 * in the format 1 file layout (gzip JSON lines), rebuilt from the checked chunks and streamed by the
 * function on every backend (lib/chunks/download.ts). No signed URL: a chunk alone is zstd of part of a
 * table, not a file a person can use. The summary itself is answered as above.
 *
 * Cron secret, a super admin, or an admin of that organization. 404 no such backup or file.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import type { DownloadLink } from "../lib/api-answers.ts";
import { requireBackup } from "../lib/backup/inventory.ts";
import type { Manifest, ManifestFile } from "../lib/backup/manifest.ts";
import { missingFile, readManifest, verifiedStream, whenMissing } from "../lib/backup/reader.ts";
import { urlSignerFor } from "../lib/backup/signed-urls.ts";
import { checkedRowsAsGzip } from "../lib/chunks/download.ts";
import { fail } from "../lib/errors.ts";
import type { Services } from "../lib/services.ts";
import { backupId } from "./backup-schemas.ts";
import { endpoint } from "./endpoint.ts";
import { json } from "./http.ts";
import { organizationId } from "./organization-id.ts";

const querySchema = z
  .object({
    organization_id: organizationId,
    backup_id: backupId,
    file: z
      .string()
      .trim()
      .min(1, "must not be empty")
      .max(512, "is longer than 512 characters")
      .regex(/^[A-Za-z0-9_./-]+$/, "may hold only letters, digits, '-', '_', '.' and '/'")
      .optional(),
  })
  .strict();

export const handleDownloadBackup = endpoint({
  name: "download-backup",
  methods: ["GET"],
  from: "query",
  input: querySchema,
  access: "organization",
  async run({ input: query, services }) {
    const backup = await requireBackup(services, query.organization_id, query.backup_id);
    if (query.file !== undefined) {
      const manifest = await readManifest(services.storage, backup.summaryPath);
      if (manifest.format_version !== 1) return chunkedDownload(services, manifest, query.file);
    }
    let target: { path: string; name: string; contentType: string; file?: ManifestFile };
    if (query.file === undefined) {
      target = {
        path: backup.summaryPath,
        name: `summary-${backup.backupId}.json`,
        contentType: "application/json",
      };
    } else {
      const manifest = await readManifest(services.storage, backup.summaryPath);
      const folder = `${backup.summaryPath.slice(0, backup.summaryPath.lastIndexOf("/") + 1)}${backup.backupId}/`;
      const file = manifest.tables
        .flatMap((t) => t.files)
        .find((f) => f.path === query.file || f.path === `${folder}${query.file}`);
      if (!file) {
        throw fail("not_found", `backup ${backup.backupId} has no file ${query.file}`, { field: "file" });
      }
      target = {
        path: file.path,
        name: file.path.slice(folder.length),
        contentType: file.path.endsWith(".zst") ? "application/zstd" : "application/gzip",
        file,
      };
    }

    const signer = urlSignerFor(services);
    if (signer) {
      const ttl = services.config.download.urlTtlSeconds;
      const url = await whenMissing(signer.createSignedUrl(target.path, ttl), () => missingFile(target.path));
      return json(200, {
        success: true,
        organization_id: query.organization_id,
        backup_id: backup.backupId,
        backup_date: backup.date,
        file: target.name,
        path: target.path,
        bytes: target.file?.bytes ?? null,
        sha256: target.file?.sha256 ?? null,
        url,
        expires_in: ttl,
        expires_at: new Date(services.now().getTime() + ttl * 1000).toISOString(),
      } satisfies DownloadLink);
    }

    // A table file is checked, then streamed; the summary is small and read whole.
    let body: ReadableStream<Uint8Array> | Uint8Array;
    let sha256: string;
    let size: number;
    if (target.file) {
      body = await verifiedStream(services.storage, target.file);
      ({ sha256, bytes: size } = target.file);
    } else {
      body = await whenMissing(services.storage.get(target.path), () => missingFile(target.path));
      sha256 = createHash("sha256").update(body).digest("hex");
      size = body.byteLength;
    }
    const filename = `${query.organization_id}_${backup.backupId}_${target.name.replaceAll("/", "_")}`;
    return new Response(body as BodyInit, {
      status: 200,
      headers: {
        "content-type": target.contentType,
        "content-length": String(size),
        "content-disposition": `attachment; filename="${filename}"`,
        "cache-control": "no-store",
        "x-content-sha256": sha256,
      },
    });
  },
});

/**
 * The rows of a table, or of one of its chunks, of a chunked backup, as a gzip JSON-lines file: only the
 * table's rows, also of a chunk it shares with other tables (its slice).
 */
async function chunkedDownload(services: Services, manifest: Manifest, file: string): Promise<Response> {
  const asTable = file.endsWith(".jsonl.gz") ? file.slice(0, -".jsonl.gz".length) : file;
  const table = manifest.tables.find((t) => t.name === asTable);
  let name: string | undefined;
  let files: ManifestFile[] = [];
  if (table) {
    name = `${table.name}.jsonl.gz`;
    files = table.files;
  } else {
    const holders = manifest.tables.flatMap((t) =>
      t.files.flatMap((f, index) =>
        f.path === file || f.path.endsWith(`/${file}`) ? [{ t, f, index }] : [],
      ),
    );
    const tables = [...new Set(holders.map((h) => h.t.name))];
    if (tables.length > 1) {
      // A chunk small tables share: which table's rows is the caller's to say.
      throw fail(
        "bad_request",
        `chunk ${file} holds rows of ${tables.length} tables (${tables.join(", ")}): ask for one table by name`,
        { field: "file" },
      );
    }
    const held = holders[0];
    if (held) {
      name = `${held.t.name}.${String(held.index).padStart(4, "0")}.jsonl.gz`;
      files = [held.f];
    }
  }
  if (!name) {
    throw fail("not_found", `backup ${manifest.backup_id} has no table or chunk ${file}`, { field: "file" });
  }
  const body = await checkedRowsAsGzip(services.storage, files);
  const filename = `${manifest.organization_id}_${manifest.backup_id}_${name}`;
  return new Response(body as BodyInit, {
    status: 200,
    headers: {
      "content-type": "application/gzip",
      "content-disposition": `attachment; filename="${filename}"`,
      "cache-control": "no-store",
    },
  });
}
