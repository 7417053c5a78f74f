/**
 * GET /.netlify/functions/backup-details?organization_id=…&backup_id=…
 * One backup in full: its listing (type, date, counts, files present, last verification) and its manifest
 * (tables, row counts, columns, files or chunks with sizes and SHA-256, schema fingerprint, warnings), plus
 * the objects it names (files, chunks, copies of the tenant's files) that are missing or not at their
 * recorded size in storage. Cron secret, a super admin, or an admin of that organization.
 * 404 no such backup; 422 its summary is damaged.
 */
import { z } from "zod";
import type { BackupDetails } from "../lib/api-answers.ts";
import { addVerifications, listingOf, storedProblems } from "../lib/backup/backup-page.ts";
import { requireBackup } from "../lib/backup/inventory.ts";
import { tenantPrefix } from "../lib/backup/paths.ts";
import { readManifest } from "../lib/backup/reader.ts";
import { backupId } from "./backup-schemas.ts";
import { endpoint } from "./endpoint.ts";
import { json } from "./http.ts";
import { organizationId } from "./organization-id.ts";

export const handleBackupDetails = endpoint({
  name: "backup-details",
  methods: ["GET"],
  from: "query",
  input: z.object({ organization_id: organizationId, backup_id: backupId }).strict(),
  access: "organization",
  async run({ input: query, services }) {
    const backup = await requireBackup(services, query.organization_id, query.backup_id);
    // The tenant's whole folder: a chunked backup's chunks are shared and live beside the backups' folders.
    const [manifest, stored] = await Promise.all([
      readManifest(services.storage, backup.summaryPath),
      services.storage.list(tenantPrefix(query.organization_id)),
    ]);
    const sizes = new Map(stored.map((o) => [o.path, o.size]));
    const listing = listingOf(manifest, backup.summaryPath, sizes);
    await addVerifications(services, [listing]);
    return json(200, {
      success: true,
      organization_id: query.organization_id,
      backup: listing,
      file_problems: storedProblems(manifest, sizes),
      manifest,
    } satisfies BackupDetails);
  },
});
