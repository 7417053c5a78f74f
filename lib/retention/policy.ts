/**
 * Which backups a tenant keeps: pure, so that the rules can be tested without storage.
 * A backup is kept when any rule keeps it:
 * - it is the tenant's newest backup (always: a tenant is never left without one, however old);
 * - its date is within RETENTION_DAYS of today (the day RETENTION_DAYS ago included);
 * - it is one of the RETENTION_KEEP_LAST newest;
 * - it is the newest of its ISO week (Monday to Sunday, UTC) for the last RETENTION_KEEP_WEEKLY_WEEKS
 *   weeks, this week included.
 * RETENTION_MAX_BACKUPS (0: off) then caps the count: a backup past the N newest goes even when a rule
 * above would keep it, except the newest and any backup started less than a day ago. The listing does not
 * say which backups are undo points (that is in their manifests), so the day's grace covers every
 * backup: a restore's undo point is never lost to the cap on its first day.
 */
import { UTCDate } from "@date-fns/utc";
// Per-function entry points, and lightFormat (no locale data): the package index loads every function and
// locale, about 100 MB of memory in a small function.
import { lightFormat } from "date-fns/lightFormat";
import { startOfISOWeek } from "date-fns/startOfISOWeek";
import { subDays } from "date-fns/subDays";
import { subWeeks } from "date-fns/subWeeks";
import { startedAtOf } from "../backup/inventory.ts";
import { utcDay } from "../time.ts";

export interface RetentionPolicy {
  days: number;
  keepLast: number;
  keepWeeklyWeeks: number;
  /** At most this many backups per tenant; 0: no cap. */
  maxBackups: number;
}

/** A backup younger than this is never removed by the cap. */
const CAP_GRACE_MS = 24 * 60 * 60 * 1000;

export interface Dated {
  backupId: string;
  /** YYYY-MM-DD, UTC. */
  date: string;
}

export interface RetentionPlan<T extends Dated> {
  keep: { backup: T; reasons: string[] }[];
  remove: { backup: T; reason: string }[];
  /** Backups dated before this day are past RETENTION_DAYS. */
  cutoff: string;
}

const day = (text: string) => new UTCDate(`${text}T00:00:00.000Z`);
const ymd = (date: Date) => lightFormat(date, "yyyy-MM-dd");

/** `backups` in any order; the plan lists them newest first. */
export function planRetention<T extends Dated>(
  backups: T[],
  policy: RetentionPolicy,
  now: Date,
): RetentionPlan<T> {
  const today = utcDay(now);
  const sorted = [...backups].sort((a, b) =>
    a.backupId === b.backupId ? 0 : a.backupId < b.backupId ? 1 : -1,
  );
  const cutoff = ymd(subDays(day(today), policy.days));
  const firstWeek =
    policy.keepWeeklyWeeks > 0
      ? ymd(subWeeks(startOfISOWeek(day(today)), policy.keepWeeklyWeeks - 1))
      : undefined;
  const weeksSeen = new Set<string>();

  const plan: RetentionPlan<T> = { keep: [], remove: [], cutoff };
  sorted.forEach((backup, index) => {
    const reasons: string[] = [];
    if (index === 0) reasons.push("newest backup");
    if (backup.date >= cutoff) reasons.push(`within ${policy.days} days`);
    if (index < policy.keepLast) reasons.push(`one of the last ${policy.keepLast}`);
    if (firstWeek !== undefined) {
      const week = ymd(startOfISOWeek(day(backup.date)));
      if (week >= firstWeek && !weeksSeen.has(week)) {
        weeksSeen.add(week);
        reasons.push(`newest of the week of ${week}`);
      }
    }
    if (reasons.length === 0) {
      plan.remove.push({ backup, reason: `older than ${policy.days} days (dated before ${cutoff})` });
    } else if (policy.maxBackups > 0 && index >= policy.maxBackups && !isYoung(backup, now)) {
      plan.remove.push({ backup, reason: `beyond the ${policy.maxBackups} newest (RETENTION_MAX_BACKUPS)` });
    } else {
      plan.keep.push({ backup, reasons });
    }
  });
  return plan;
}

/** Started less than CAP_GRACE_MS ago: by the start time in its id, else as if at the end of its day. */
function isYoung(backup: Dated, now: Date): boolean {
  const started = startedAtOf(backup.backupId)?.getTime() ?? day(backup.date).getTime() + CAP_GRACE_MS;
  return now.getTime() - started < CAP_GRACE_MS;
}
