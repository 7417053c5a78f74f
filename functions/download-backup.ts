/**
 * GET /.netlify/functions/download-backup?organization_id=…&backup_id=…[&file=<name>]
 * One object of a backup: the summary (manifest) when `file` is absent, else the table file `file`
 * names — as listed in the manifest, by its name (`customers.0000.jsonl.gz`) or its full path. A whole
 * backup is its summary plus the files the summary lists: fetch them one by one (no tar: a tenant's
 * backup can be far larger than a function may send or hold).
 *
 * - Supabase Storage: 200 JSON with a signed URL valid DOWNLOAD_URL_TTL_SECONDS; the browser fetches the
 *   file from Storage directly, so nothing large passes through the function.
 * - Local storage: the file itself, streamed in chunks (never one buffered body over Netlify's 6 MB),
 *   after its SHA-256 has been checked against the manifest (422 when it differs).
 *
 * Cron secret, a super admin, or an admin of that organization. 404 no such backup or file.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { requireBackup } from "../lib/backup/inventory.ts";
import type { ManifestFile } from "../lib/backup/manifest.ts";
import { readManifest } from "../lib/backup/reader.ts";
import { urlSignerFor } from "../lib/backup/signed-urls.ts";
import { fail } from "../lib/errors.ts";
import { StorageError } from "../lib/storage/port.ts";
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

/** Chunks of the streamed body: small enough to keep memory flat while the client reads. */
const CHUNK_BYTES = 256 * 1024;

export const handleDownloadBackup = endpoint({
  name: "download-backup",
  methods: ["GET"],
  from: "query",
  input: querySchema,
  access: "organization",
  async run({ input: query, services }) {
    const backup = await requireBackup(services, query.organization_id, query.backup_id);
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
        contentType: "application/gzip",
        file,
      };
    }

    const signer = urlSignerFor(services);
    if (signer) {
      const ttl = services.config.download.urlTtlSeconds;
      const url = await signer.createSignedUrl(target.path, ttl).catch((err) => {
        if (err instanceof StorageError && err.code === "not_found") {
          throw fail("unprocessable", `backup file ${target.path} is missing`, { file: target.path });
        }
        throw err;
      });
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
      });
    }

    const bytes = await services.storage.get(target.path).catch((err) => {
      if (err instanceof StorageError && err.code === "not_found") {
        throw fail("unprocessable", `backup file ${target.path} is missing`, { file: target.path });
      }
      throw err;
    });
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    if (target.file && (bytes.byteLength !== target.file.bytes || sha256 !== target.file.sha256)) {
      throw fail(
        "unprocessable",
        `backup file ${target.path} is damaged: its checksum does not match the summary`,
        {
          file: target.path,
        },
      );
    }
    const filename = `${query.organization_id}_${backup.backupId}_${target.name.replaceAll("/", "_")}`;
    return new Response(chunked(bytes), {
      status: 200,
      headers: {
        "content-type": target.contentType,
        "content-length": String(bytes.byteLength),
        "content-disposition": `attachment; filename="${filename}"`,
        "cache-control": "no-store",
        "x-content-sha256": sha256,
      },
    });
  },
});

function chunked(bytes: Uint8Array): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= bytes.byteLength) {
        controller.close();
        return;
      }
      const end = Math.min(offset + CHUNK_BYTES, bytes.byteLength);
      controller.enqueue(bytes.subarray(offset, end));
      offset = end;
    },
  });
}
