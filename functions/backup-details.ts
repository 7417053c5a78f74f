/**
 * GET /.netlify/functions/backup-details?organization_id=…&backup_id=…
 * One backup in full: its listing (type, date, counts, files present) and its manifest (tables, row counts,
 * columns, files with sizes and SHA-256, schema fingerprint, warnings), plus the files that are missing
 * or not at their recorded size in storage. Cron secret, a super admin, or an admin of that organization.
 * 404 no such backup; 422 its summary is damaged.
 */
import { z } from "zod";
import type { BackupDetails } from "../lib/api-answers.ts";
import { listingOf } from "../lib/backup/backup-page.ts";
import { filesPrefix, requireBackup } from "../lib/backup/inventory.ts";
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
    const [manifest, stored] = await Promise.all([
      readManifest(services.storage, backup.summaryPath),
      services.storage.list(filesPrefix(query.organization_id, backup.date, backup.backupId)),
    ]);
    const sizes = new Map(stored.map((o) => [o.path, o.size]));
    const problems = manifest.tables
      .flatMap((t) => t.files)
      .filter((f) => sizes.get(f.path) !== f.bytes)
      .map((f) => ({
        path: f.path,
        problem: sizes.has(f.path) ? `stored size ${sizes.get(f.path)}, expected ${f.bytes}` : "missing",
      }));
    return json(200, {
      success: true,
      organization_id: query.organization_id,
      backup: listingOf(manifest, backup.summaryPath, sizes),
      file_problems: problems,
      manifest,
    } satisfies BackupDetails);
  },
});
