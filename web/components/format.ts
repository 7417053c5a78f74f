/** How numbers, sizes, dates and ages read on the page (the user's locale; times in their zone and UTC). */
import type { CreatedBy } from "../client/types.ts";

export function formatCount(n: number): string {
  return new Intl.NumberFormat().format(n);
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function formatDate(iso: string): string {
  return new Date(iso).toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" });
}

export function formatTime(iso: string): string {
  return new Date(iso).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
}

export function formatDateTime(iso: string): string {
  return `${formatDate(iso)}, ${formatTime(iso)}`;
}

/** "3 minutes ago", "2 days ago". */
export function formatAge(iso: string, now = Date.now()): string {
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
  if (seconds < 60) return rtf.format(-seconds, "second");
  if (seconds < 3600) return rtf.format(-Math.round(seconds / 60), "minute");
  if (seconds < 86_400) return rtf.format(-Math.round(seconds / 3600), "hour");
  return rtf.format(-Math.round(seconds / 86_400), "day");
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export const TYPE_LABELS: Record<string, string> = {
  daily: "Daily",
  manual: "Manual",
  pre_restore: "Undo point",
  daily_tenant: "Daily backup",
  manual_tenant: "Manual backup",
  retention: "Retention",
  delete: "Deleted",
  restore: "Restore",
  module_export: "CSV export",
  module_import: "CSV import",
};

export function typeLabel(type: string | null | undefined): string {
  if (!type) return "Unknown";
  return TYPE_LABELS[type] ?? type.replaceAll("_", " ");
}

/** The UTC calendar day a backup id starts with (20261201T…): where an undo point can be found. */
export function dayOfBackupId(backupId: string): string | null {
  const m = /^(\d{4})(\d{2})(\d{2})T/.exec(backupId);
  return m ? `${m[1]}-${m[2]}-${m[3]}` : null;
}

/** Who started a backup or restore: "cron", the user's e-mail (else their id), or "" when not recorded. */
export function createdByLabel(createdBy: CreatedBy | null | undefined): string {
  if (!createdBy) return "";
  if (createdBy === "cron") return "cron";
  return createdBy.email ?? `user ${createdBy.user_id}`;
}
