/**
 * A tenant's available backups, read from storage (the source of truth): every summary under the
 * tenant's folder, newest first, with what its manifest says and whether its files are all present at
 * their recorded sizes.
 */
import type { Services } from "../services.ts";
import type { BackupType } from "./manifest.ts";
import { parseSummaryPath, tenantPrefix } from "./paths.ts";
import { readManifest } from "./reader.ts";

export interface BackupListing {
  backup_id: string;
  backup_date: string;
  backup_type: BackupType;
  status: "completed";
  summary_path: string;
  organization_name: string | null;
  completed_at: string;
  tables: number;
  total_records: number;
  total_size: number;
  files: number;
  /** Every file the manifest names is in storage with the recorded size (checksums are checked on restore). */
  verified: boolean;
  schema_fingerprint: string;
}

export async function listBackups(services: Services, tenantId: string): Promise<BackupListing[]> {
  const objects = await services.storage.list(tenantPrefix(tenantId));
  const sizes = new Map(objects.map((o) => [o.path, o.size]));
  const summaries = objects
    .map((o) => ({ path: o.path, parsed: parseSummaryPath(o.path) }))
    .filter((s) => s.parsed?.tenantId === tenantId)
    // Backup ids start with their UTC time, so this is newest first.
    .sort((a, b) => (a.parsed?.backupId ?? "").localeCompare(b.parsed?.backupId ?? "") * -1);

  const listings: BackupListing[] = [];
  for (const summary of summaries) {
    const manifest = await readManifest(services.storage, summary.path);
    const files = manifest.tables.flatMap((t) => t.files);
    listings.push({
      backup_id: manifest.backup_id,
      backup_date: manifest.backup_date,
      backup_type: manifest.backup_type,
      status: "completed",
      summary_path: summary.path,
      organization_name: manifest.organization_name,
      completed_at: manifest.completed_at,
      tables: manifest.tables.length,
      total_records: manifest.total_records,
      total_size: manifest.total_bytes,
      files: files.length,
      verified: files.every((f) => sizes.get(f.path) === f.bytes),
      schema_fingerprint: manifest.schema_fingerprint,
    });
  }
  return listings;
}
