/**
 * Schedule slots: the moments a tenant's scheduled backup is due, as pure functions of the schedule and a
 * time (the caller passes services.now()). Everything is in UTC and counted in whole days since
 * 1970-01-01, so there is no daylight saving time to skip or repeat and no month end to special-case.
 *
 * - daily: every day at time_of_day.
 * - every_2_days: at time_of_day on even days since 1970-01-01 (1970-01-01 is day 0). The anchor is fixed,
 *   not the day the schedule was saved, so that every instance and every call agree on the slots without
 *   remembering anything.
 * - weekly: at time_of_day on day_of_week (0 Sunday … 6 Saturday).
 * - off, or a disabled schedule: no slots at all.
 */

export const FREQUENCIES = ["every_2_days", "daily", "weekly", "off"] as const;
export type Frequency = (typeof FREQUENCIES)[number];

export interface Schedule {
  frequency: Frequency;
  /** "HH:MM", UTC. */
  time_of_day: string;
  /** 0–6, Sunday 0, for weekly; null otherwise. */
  day_of_week: number | null;
  enabled: boolean;
}

/** "HH:MM" on a 24-hour clock, 00:00 to 23:59. */
export const TIME_OF_DAY_PATTERN = /^([01]\d|2[0-3]):[0-5]\d$/;

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
/** 1970-01-01 was a Thursday. */
const EPOCH_WEEKDAY = 4;

/** Days between two slots, or null when the schedule has none. */
export function periodDays(schedule: Schedule): number | null {
  if (!schedule.enabled) return null;
  switch (schedule.frequency) {
    case "daily":
      return 1;
    case "every_2_days":
      return 2;
    case "weekly":
      return 7;
    case "off":
      return null;
  }
}

/** The start of the latest slot at or before `at`, or null when the schedule has no slots. */
export function latestSlotStart(schedule: Schedule, at: Date): Date | null {
  const period = periodDays(schedule);
  if (period === null) return null;
  const now = at.getTime();
  const day = Math.floor(now / DAY_MS);
  // The most recent day (today or earlier) on which a slot falls.
  const slotDay = day - daysSinceSlotDay(schedule, day);
  let start = slotDay * DAY_MS + minutesOfDay(schedule.time_of_day) * MINUTE_MS;
  // That day's slot has not started yet: the one before it is the latest.
  if (start > now) start -= period * DAY_MS;
  return new Date(start);
}

/** The start of the first slot strictly after `at`, or null when the schedule has no slots. */
export function nextSlotStart(schedule: Schedule, at: Date): Date | null {
  const latest = latestSlotStart(schedule, at);
  const period = periodDays(schedule);
  if (latest === null || period === null) return null;
  return new Date(latest.getTime() + period * DAY_MS);
}

/**
 * True when the latest slot has started and no scheduled backup completed since it began (`lastRunAt`:
 * when the last one completed, or null when there has been none).
 */
export function isDue(schedule: Schedule, lastRunAt: Date | null, at: Date): boolean {
  const latest = latestSlotStart(schedule, at);
  if (latest === null) return false;
  return lastRunAt === null || lastRunAt.getTime() < latest.getTime();
}

/**
 * When the cron will next back the tenant up: the latest slot's start when it is due (a past time: the next
 * call takes it), the next slot's otherwise; null when the schedule has no slots.
 */
export function nextRunAt(schedule: Schedule, lastRunAt: Date | null, at: Date): Date | null {
  return isDue(schedule, lastRunAt, at) ? latestSlotStart(schedule, at) : nextSlotStart(schedule, at);
}

function minutesOfDay(timeOfDay: string): number {
  const match = TIME_OF_DAY_PATTERN.exec(timeOfDay);
  if (!match) throw new Error(`time_of_day must be HH:MM, got ${JSON.stringify(timeOfDay)}`);
  return Number(timeOfDay.slice(0, 2)) * 60 + Number(timeOfDay.slice(3, 5));
}

/** How many days back from `day` (days since 1970-01-01) the most recent slot day is: 0 when it is one. */
function daysSinceSlotDay(schedule: Schedule, day: number): number {
  switch (schedule.frequency) {
    case "every_2_days":
      return mod(day, 2);
    case "weekly": {
      if (schedule.day_of_week === null) throw new Error("a weekly schedule needs day_of_week");
      return mod(mod(day + EPOCH_WEEKDAY, 7) - schedule.day_of_week, 7);
    }
    default:
      return 0;
  }
}

/** The remainder that is never negative (days before 1970 stay on the same grid). */
function mod(n: number, m: number): number {
  return ((n % m) + m) % m;
}
