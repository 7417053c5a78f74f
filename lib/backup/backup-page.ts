/**
 * A page of a tenant's backups, newest first, optionally of one type: what list-backups shows. Storage is
 * the source of truth; only the manifests of the page are read, so a tenant with hundreds of backups
 * lists in a few reads. A summary that cannot be read is listed as "damaged" instead of failing the
 * whole list: the admin page must still show the good ones, and let the bad one be deleted.
 */
import type { BackupEntry, BackupListing, StoredProblem } from "../api-answers.ts";
import { isStoredSizeOf } from "../crypto/encrypting-storage.ts";
import { isAppError } from "../errors.ts";
import type { Services } from "../services.ts";
import { inventoryOf, type StoredBackup } from "./inventory.ts";
import { type BackupType, distinctObjects, type Manifest, tableObjects } from "./manifest.ts";
import { tenantPrefix } from "./paths.ts";
import { readManifest } from "./reader.ts";

export interface BackupPageQuery {
  limit: number;
  /** Only backups older than this backup id (the previous page's next_before). */
  before?: string;
  type?: BackupType;
}

export interface BackupPage {
  backups: BackupEntry[];
  /** Pass as `before` for the next page; null when there are no older backups to look at. */
  nextBefore: string | null;
  /** Whether the tenant has any backup at all, whatever the filters. */
  hasAny: boolean;
}

/** Manifests read at once: enough to hide Supabase's latency, few enough not to flood it. */
const READ_CONCURRENCY = 8;

export async function listBackupPage(
  services: Services,
  tenantId: string,
  query: BackupPageQuery,
): Promise<BackupPage> {
  const objects = await services.storage.list(tenantPrefix(tenantId));
  const sizes = new Map(objects.map((o) => [o.path, o.size]));
  const { backups } = inventoryOf(tenantId, objects);
  const candidates = backups.filter((b) => query.before === undefined || b.backupId < query.before);

  const page: BackupEntry[] = [];
  let read = 0;
  while (read < candidates.length && page.length < query.limit) {
    const batch = candidates.slice(read, read + READ_CONCURRENCY);
    const entries = await Promise.all(batch.map((b) => describe(services, b, sizes)));
    for (const entry of entries) {
      read += 1;
      if (query.type !== undefined && entry.backup_type !== query.type) continue;
      page.push(entry);
      if (page.length === query.limit) break;
    }
  }
  await addVerifications(services, page);
  const last = page.at(-1);
  return {
    backups: page,
    nextBefore: read < candidates.length && last ? last.backup_id : null,
    hasAny: backups.length > 0,
  };
}

async function describe(
  services: Services,
  backup: StoredBackup,
  sizes: Map<string, number>,
): Promise<BackupEntry> {
  let manifest: Manifest;
  try {
    manifest = await readManifest(services.storage, backup.summaryPath);
  } catch (err) {
    if (!isAppError(err)) throw err;
    return {
      backup_id: backup.backupId,
      backup_date: backup.date,
      backup_type: null,
      status: "damaged",
      summary_path: backup.summaryPath,
      files_present: false,
      error: err.message,
    };
  }
  return listingOf(manifest, backup.summaryPath, sizes);
}

/**
 * What is wrong in storage with the objects `manifest` names (its table files or chunks, and its copies of
 * the tenant's files), given `sizes`: the tenant's stored objects by path. Chunks live beside the backups'
 * folders and may be encrypted, so the sizes must come from the tenant's whole folder and be compared as
 * stored sizes.
 */
export function storedProblems(manifest: Manifest, sizes: Map<string, number>): StoredProblem[] {
  const named = distinctObjects([
    ...manifest.tables.flatMap((t) => t.files),
    ...(manifest.files?.objects ?? []).map((o) => ({ path: o.stored_as, bytes: o.bytes })),
  ]);
  return named
    .filter((f) => !isStoredSizeOf(sizes.get(f.path), f.bytes))
    .map((f) => ({
      path: f.path,
      problem: sizes.has(f.path) ? `stored size ${sizes.get(f.path)}, expected ${f.bytes}` : "missing",
    }));
}

/** The listing of a readable backup; `files_present`: every object it names is stored at its recorded size. */
export function listingOf(
  manifest: Manifest,
  summaryPath: string,
  sizes: Map<string, number>,
): BackupListing {
  return {
    backup_id: manifest.backup_id,
    backup_date: manifest.backup_date,
    backup_type: manifest.backup_type,
    status: "completed",
    summary_path: summaryPath,
    organization_name: manifest.organization_name,
    completed_at: manifest.completed_at,
    tables: manifest.tables.length,
    total_records: manifest.total_records,
    total_size: manifest.total_bytes,
    files: tableObjects(manifest).length,
    tenant_files: manifest.files?.objects.length ?? 0,
    files_present: storedProblems(manifest, sizes).length === 0,
    schema_fingerprint: manifest.schema_fingerprint,
    created_by: manifest.created_by ?? null,
    note: manifest.note ?? null,
    verified_at: null,
    verification: null,
    validation: manifest.validation
      ? {
          rules: manifest.validation.rules,
          failed: manifest.validation.failed,
          violations: manifest.validation.violations,
          errors: manifest.validation.errors,
          checked_at: manifest.validation.checked_at,
        }
      : null,
  };
}

/** What the verification drills found of each listed backup, from the database (one call for the page). */
export async function addVerifications(services: Services, page: BackupEntry[]): Promise<void> {
  const listed = page.filter((entry): entry is BackupListing => entry.status === "completed");
  if (listed.length === 0) return;
  const found = new Map(
    (await services.db.verificationsOf(listed.map((b) => b.backup_id))).map((v) => [v.backup_id, v]),
  );
  for (const entry of listed) {
    const v = found.get(entry.backup_id);
    if (!v) continue;
    entry.verified_at = v.last_passed_at;
    entry.verification = { status: v.status, at: v.verified_at, error: v.error_message };
  }
}
