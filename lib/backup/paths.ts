/**
 * Where a backup's objects live (the reference layout):
 *   tenant-backups/{organization_id}/{YYYY-MM-DD}/summary-{backup_id}.json   the manifest, written last
 *   tenant-backups/{organization_id}/{YYYY-MM-DD}/{backup_id}/{table}.{part}.jsonl.zst   (format 1; .jsonl.gz
 *     in backups written before format 1 files were zstd)
 */
import { randomBytes } from "node:crypto";
import { UTCDate } from "@date-fns/utc";
// lightFormat from its own entry point: the package index (and format) load locale data we never use.
import { lightFormat } from "date-fns/lightFormat";

export const ROOT = "tenant-backups";

/** Tenant ids become path segments: only these characters are accepted. */
export const TENANT_ID_PATTERN = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$/;

export function tenantPrefix(tenantId: string): string {
  return `${ROOT}/${tenantId}/`;
}

export function datePrefix(tenantId: string, date: string): string {
  return `${ROOT}/${tenantId}/${date}/`;
}

export function summaryPath(tenantId: string, date: string, backupId: string): string {
  return `${datePrefix(tenantId, date)}summary-${backupId}.json`;
}

export function filePath(
  tenantId: string,
  date: string,
  backupId: string,
  table: string,
  part: number,
  suffix: FileSuffix,
): string {
  return `${datePrefix(tenantId, date)}${backupId}/${table}.${String(part).padStart(4, "0")}${suffix}`;
}

/** A format 1 table file's suffix, by its codec: what its manifest's encoding says its files are. */
export type FileSuffix = ".jsonl.zst" | ".jsonl.gz";

/** Parses a summary key back into its parts; null for any other key. */
export function parseSummaryPath(path: string): { tenantId: string; date: string; backupId: string } | null {
  const match = /^tenant-backups\/([^/]+)\/(\d{4}-\d{2}-\d{2})\/summary-([^/]+)\.json$/.exec(path);
  if (!match) return null;
  return { tenantId: match[1] as string, date: match[2] as string, backupId: match[3] as string };
}

/** The UTC day `20261122` of a backup id (newBackupId), as `2026-11-22`. */
export function dayOfBackupId(backupId: string): string {
  return `${backupId.slice(0, 4)}-${backupId.slice(4, 6)}-${backupId.slice(6, 8)}`;
}

/** `20261122T010203456Z-9f3a`: sorts by time, unique enough for one tenant's backups. */
export function newBackupId(now: Date): string {
  return `${lightFormat(new UTCDate(now), "yyyyMMdd'T'HHmmssSSS'Z'")}-${randomBytes(2).toString("hex")}`;
}
