/**
 * The alerts the engine sends, and the one body every channel carries. Each message says what to do, so
 * that whoever reads it at night knows the next step without opening the docs.
 */
export type AlertEventName =
  | "backup.failed"
  | "backup.resolved"
  | "restore.completed"
  | "restore.failed"
  | WatchEventName
  | `${WatchEventName}.resolved`;

/** What the watch on the backups raises (watch-events.ts); each is told once until it clears. */
export type WatchEventName =
  | "run.incomplete"
  | "tenant.stale"
  | "backup.size_changed"
  | "storage.quota"
  | "verify.failed";

export interface AlertBody {
  event: AlertEventName;
  organization_id: string;
  organization_name: string | null;
  /** ISO 8601, from services.now(). */
  at: string;
  message: string;
  details: Record<string, unknown>;
}

export interface Tenant {
  id: string;
  name: string | null;
}

export const label = (tenant: Tenant) => (tenant.name ? `${tenant.name} (${tenant.id})` : tenant.id);

export function backupFailed(tenant: Tenant, at: Date, details: { error: string; type: string }): AlertBody {
  return {
    event: "backup.failed",
    organization_id: tenant.id,
    organization_name: tenant.name,
    at: at.toISOString(),
    message:
      `The ${details.type} backup of ${label(tenant)} failed: ${details.error}. ` +
      "Check the error in backup_logs and the storage and database settings, then run a manual backup " +
      "(backup-tenant-data); no further alert is sent for this tenant until a backup succeeds.",
    details,
  };
}

export function backupResolved(
  tenant: Tenant,
  at: Date,
  details: { backup_id: string; type: string },
): AlertBody {
  return {
    event: "backup.resolved",
    organization_id: tenant.id,
    organization_name: tenant.name,
    at: at.toISOString(),
    message: `Backups of ${label(tenant)} succeed again (${details.backup_id}). Nothing to do.`,
    details,
  };
}

export type RestoreDetails = {
  backup_id: string;
  /** Who asked: "cron" or the user id from the token. */
  requested_by: string;
  undo_backup_id: string | null;
  error?: string;
};

export function restoreCompleted(tenant: Tenant, at: Date, details: RestoreDetails): AlertBody {
  const undo = details.undo_backup_id
    ? `restore backup ${details.undo_backup_id} to undo it`
    : "no undo point was stored";
  return {
    event: "restore.completed",
    organization_id: tenant.id,
    organization_name: tenant.name,
    at: at.toISOString(),
    message:
      `${label(tenant)} was restored from backup ${details.backup_id} by ${details.requested_by}. ` +
      `If this was not intended, ${undo}.`,
    details,
  };
}

export function restoreFailed(tenant: Tenant, at: Date, details: RestoreDetails): AlertBody {
  return {
    event: "restore.failed",
    organization_id: tenant.id,
    organization_name: tenant.name,
    at: at.toISOString(),
    message:
      `Restoring ${label(tenant)} from backup ${details.backup_id} (asked by ${details.requested_by}) ` +
      `failed: ${details.error ?? "unknown error"}. The data was left as it was; check the error and try again.`,
    details,
  };
}
