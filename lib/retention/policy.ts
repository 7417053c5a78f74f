/**
 * Which backups a tenant keeps: pure, so that the rules can be tested without storage.
 * A backup is kept when any rule keeps it:
 * - it is the tenant's newest backup (always: a tenant is never left without one, however old);
 * - its date is within RETENTION_DAYS of today (the day RETENTION_DAYS ago included);
 * - it is one of the RETENTION_KEEP_LAST newest;
 * - it is the newest of its ISO week (Monday to Sunday, UTC) for the last RETENTION_KEEP_WEEKLY_WEEKS
 *   weeks, this week included.
 */
import { UTCDate } from "@date-fns/utc";
// Per-function entry points, and lightFormat (no locale data): the package index loads every function and
// locale, about 100 MB of memory in a small function.
import { lightFormat } from "date-fns/lightFormat";
import { startOfISOWeek } from "date-fns/startOfISOWeek";
import { subDays } from "date-fns/subDays";
import { subWeeks } from "date-fns/subWeeks";

export interface RetentionPolicy {
  days: number;
  keepLast: number;
  keepWeeklyWeeks: number;
}

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
  today: string,
): RetentionPlan<T> {
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
    if (reasons.length > 0) plan.keep.push({ backup, reasons });
    else plan.remove.push({ backup, reason: `older than ${policy.days} days (dated before ${cutoff})` });
  });
  return plan;
}
