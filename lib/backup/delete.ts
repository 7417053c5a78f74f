/**
 * Deleting one backup: the summary first, then its files. A backup is its summary, so once that is gone
 * the backup no longer exists for anyone (listing, restore); a failure half way through leaves files
 * without a summary, which the retention pass removes as orphans — never a backup that looks complete
 * but is missing files. Logged in backup_logs. Answers null when the summary is already gone (deleted
 * by someone else since it was listed): nothing to do, nothing logged.
 */
import { errorMessage } from "../errors.ts";
import type { Services } from "../services.ts";
import { logTiming } from "../time.ts";
import { filesPrefix, objectAt, type StoredBackup } from "./inventory.ts";
import { readManifest } from "./reader.ts";

export interface DeletedBackup {
  backup_id: string;
  backup_date: string;
  files: number;
  bytes: number;
}

export async function deleteBackup(
  services: Services,
  tenantId: string,
  backup: StoredBackup,
  log: { type: "delete" | "retention"; reason: string; actor: string; readManifest?: boolean },
): Promise<DeletedBackup | null> {
  const { storage, db } = services;
  const started = services.now();
  const summary = await objectAt(storage, backup.summaryPath);
  if (!summary) return null;
  // Read for the log only; a damaged summary must not stop its own deletion.
  const manifest = log.readManifest
    ? await readManifest(storage, backup.summaryPath).catch(() => undefined)
    : undefined;

  await storage.remove([backup.summaryPath]);
  const entry = {
    organization_id: tenantId,
    backup_type: log.type,
    backup_date: backup.date,
    backup_id: backup.backupId,
    records_count: manifest?.total_records ?? null,
    tables_count: manifest?.tables.length ?? null,
  };
  let files: { path: string; size: number }[] = [];
  try {
    files = await storage.list(filesPrefix(tenantId, backup.date, backup.backupId));
    await storage.remove(files.map((f) => f.path));
  } catch (err) {
    await db.log({
      ...entry,
      status: "failed",
      error_message: `summary deleted, files left for the orphan cleanup: ${errorMessage(err)}`,
      ...logTiming(started, services.now()),
      details: { reason: log.reason, actor: log.actor, summary_path: backup.summaryPath },
    });
    throw err;
  }
  const bytes = files.reduce((n, f) => n + f.size, summary.size);
  await db.log({
    ...entry,
    status: "completed",
    file_size: bytes,
    ...logTiming(started, services.now()),
    details: { reason: log.reason, actor: log.actor, summary_path: backup.summaryPath, files: files.length },
  });
  return { backup_id: backup.backupId, backup_date: backup.date, files: files.length, bytes };
}
