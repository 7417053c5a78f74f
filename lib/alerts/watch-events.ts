/**
 * The alerts of the watch on the backups, and the "resolved" each is followed by once its condition
 * clears (event `<event>.resolved`). Each message says what to do. storage.quota is about the whole
 * bucket: its organization_id is STORAGE_ALERT_KEY and its organization_name null.
 */
import type { AlertBody, Tenant, WatchEventName } from "./events.ts";
import { label } from "./events.ts";

/** The organization_id of alerts about all tenants together (storage.quota). */
export const STORAGE_ALERT_KEY = "*";

function body(
  event: AlertBody["event"],
  tenant: Tenant,
  at: Date,
  message: string,
  details: object,
): AlertBody {
  return {
    event,
    organization_id: tenant.id,
    organization_name: tenant.name,
    at: at.toISOString(),
    message,
    details: details as Record<string, unknown>,
  };
}

function resolved(event: WatchEventName, tenant: Tenant, at: Date, message: string, details: object) {
  return body(`${event}.resolved`, tenant, at, message, details);
}

export interface RunIncompleteDetails {
  slot_started_at: string;
  deadline: string;
  status: string;
}

export function runIncomplete(tenant: Tenant, at: Date, details: RunIncompleteDetails): AlertBody {
  return body(
    "run.incomplete",
    tenant,
    at,
    `The scheduled backup of ${label(tenant)} that was due at ${details.slot_started_at} is not complete ` +
      `by ${details.deadline} (now: ${details.status}). Check that the cron service still calls ` +
      "daily-tenant-backup and what its answers say (a 202 needs further calls; raise its call count or " +
      "BACKUP_TIME_BUDGET_MS), or run a manual backup (backup-tenant-data).",
    details,
  );
}

export function runCompleted(tenant: Tenant, at: Date, details: { backup_id: string }): AlertBody {
  return resolved(
    "run.incomplete",
    tenant,
    at,
    `The scheduled backup of ${label(tenant)} is complete (${details.backup_id}). Nothing to do.`,
    details,
  );
}

export interface StaleDetails {
  status: "stale" | "missing";
  age_hours: number | null;
  max_age_hours: number | null;
  backup_id: string | null;
}

export function tenantStale(tenant: Tenant, at: Date, details: StaleDetails): AlertBody {
  const what =
    details.status === "missing"
      ? "has no completed backup"
      : `has had no backup for ${details.age_hours} h (its schedule allows ${details.max_age_hours} h)`;
  return body(
    "tenant.stale",
    tenant,
    at,
    `${label(tenant)} ${what}. Check that the cron service calls daily-tenant-backup, that the tenant's ` +
      "schedule is what you want (backup-schedule), and the history for failures; then run a manual backup " +
      "(backup-tenant-data).",
    details,
  );
}

export function tenantFresh(tenant: Tenant, at: Date, details: StaleDetails): AlertBody {
  return resolved(
    "tenant.stale",
    tenant,
    at,
    `${label(tenant)} has a backup younger than its schedule allows again (${details.backup_id}). Nothing to do.`,
    details,
  );
}

export interface SizeDetails {
  backup_id: string;
  bytes: number;
  median_bytes: number;
  /** bytes / median_bytes - 1: +1 is doubled, -1 empty. */
  change: number;
  /** ALERT_SIZE_CHANGE_RATIO. */
  threshold: number;
  /** How many recent backups the median is of. */
  compared_with: number;
}

export function sizeChanged(tenant: Tenant, at: Date, details: SizeDetails): AlertBody {
  const percent = Math.round(details.change * 100);
  return body(
    "backup.size_changed",
    tenant,
    at,
    `Backup ${details.backup_id} of ${label(tenant)} is ${details.bytes} bytes, ${percent > 0 ? "+" : ""}${percent}% ` +
      `against the median of its last ${details.compared_with} (${details.median_bytes} bytes). Check that the ` +
      "tenant's data is as it should be (a tenant emptied or doubled by mistake is restored from an earlier " +
      "backup, after a dry run); if the change is expected, nothing to do.",
    details,
  );
}

export function sizeSettled(tenant: Tenant, at: Date, details: SizeDetails): AlertBody {
  return resolved(
    "backup.size_changed",
    tenant,
    at,
    `Backup ${details.backup_id} of ${label(tenant)} is within the usual size again. Nothing to do.`,
    details,
  );
}

export interface QuotaDetails {
  total_bytes: number;
  quota_bytes: number;
  used_ratio: number;
  warn_ratio: number;
}

const ALL_TENANTS: Tenant = { id: STORAGE_ALERT_KEY, name: null };

export function storageQuota(at: Date, details: QuotaDetails): AlertBody {
  return body(
    "storage.quota",
    ALL_TENANTS,
    at,
    `Backups use ${Math.round(details.used_ratio * 100)}% of STORAGE_QUOTA_BYTES (${details.total_bytes} of ` +
      `${details.quota_bytes} bytes; warning at ${Math.round(details.warn_ratio * 100)}%). See backup-usage for ` +
      "the largest tenants; shorten RETENTION_DAYS or set RETENTION_MAX_BACKUPS, delete backups you do not " +
      "need, or raise the quota with your storage plan.",
    details,
  );
}

export function storageBelowQuota(at: Date, details: QuotaDetails): AlertBody {
  return resolved(
    "storage.quota",
    ALL_TENANTS,
    at,
    `Backups use ${Math.round(details.used_ratio * 100)}% of STORAGE_QUOTA_BYTES again, below the warning. Nothing to do.`,
    details,
  );
}

export interface VerifyDetails {
  backup_id: string;
  error?: string;
}

export function verifyFailed(tenant: Tenant, at: Date, details: VerifyDetails): AlertBody {
  return body(
    "verify.failed",
    tenant,
    at,
    `The verification drill of backup ${details.backup_id} of ${label(tenant)} failed: ${details.error}. ` +
      "The backup may not restore: run a manual backup now (backup-tenant-data), then check the storage " +
      "(a damaged or missing file) and whether the database's schema still fits the backups.",
    details,
  );
}

export function verifyPassed(tenant: Tenant, at: Date, details: VerifyDetails): AlertBody {
  return resolved(
    "verify.failed",
    tenant,
    at,
    `The verification drill of backup ${details.backup_id} of ${label(tenant)} passed. Nothing to do.`,
    details,
  );
}
