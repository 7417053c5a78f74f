/**
 * What the off-site copy holds, as pure rules (tested without storage):
 * - copied: each tenant's first backup of each ISO week (Monday to Sunday, UTC) — the weekly tier — of the
 *   weeks that reach into the last OFFSITE_RETENTION_DAYS. The first, not the newest: it does not change
 *   as the week goes on, so one copy a week is made, as soon as the week's first backup exists. Undo points
 *   (pre_restore) are not copied; the caller skips them, since only their manifests say what they are.
 * - removed: off-site backups dated before OFFSITE_RETENTION_DAYS ago, except a tenant's newest one, so that
 *   a tenant whose backups stopped keeps its last off-site copy.
 */
import { UTCDate } from "@date-fns/utc";
import { lightFormat } from "date-fns/lightFormat";
import { startOfISOWeek } from "date-fns/startOfISOWeek";
import { subDays } from "date-fns/subDays";
import type { StoredBackup } from "../backup/inventory.ts";

const day = (text: string) => new UTCDate(`${text}T00:00:00.000Z`);
const ymd = (date: Date) => lightFormat(date, "yyyy-MM-dd");

/** The first day (YYYY-MM-DD) that is still within `retentionDays` of `today`. */
export function offsiteCutoff(today: string, retentionDays: number): string {
  return ymd(subDays(day(today), retentionDays));
}

/** The Monday (YYYY-MM-DD) of the ISO week of `date`. */
export function isoWeekOf(date: string): string {
  return ymd(startOfISOWeek(day(date)));
}

/**
 * A tenant's backups grouped by ISO week, oldest first within each week, leaving out backups dated before
 * the cutoff: in the week the cutoff falls in, the first backup on or after it stands for the week (one
 * dated before would be removed by the same call's retention, and copied again by the next). The caller
 * copies the first of each group that is not an undo point.
 */
export function weeklyCandidates(backups: StoredBackup[], cutoff: string): StoredBackup[][] {
  const weeks = new Map<string, StoredBackup[]>();
  for (const backup of backups) {
    if (backup.date < cutoff) continue;
    const week = isoWeekOf(backup.date);
    const list = weeks.get(week);
    if (list) list.push(backup);
    else weeks.set(week, [backup]);
  }
  return [...weeks.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, list]) => list.sort((a, b) => (a.backupId < b.backupId ? -1 : a.backupId > b.backupId ? 1 : 0)));
}

/** The off-site backups to remove: dated before the cutoff, never the tenant's newest (newest first input). */
export function expiredOffsite(backups: StoredBackup[], cutoff: string): StoredBackup[] {
  return backups.slice(1).filter((backup) => backup.date < cutoff);
}
