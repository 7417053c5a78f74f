/**
 * Time. The engine reads the current time only through a Clock (services.now), so that tests can set it
 * and every deadline, id and timestamp of one operation agrees; `systemClock` is the one place that reads
 * the host's clock. Calendar days are UTC days: "today" for the daily run and every backup_date is the
 * UTC day, whatever the host's zone.
 */
import { UTCDate } from "@date-fns/utc";
// lightFormat from its own entry point: the package index (and format/parse) load every locale, about
// 100 MB of memory in a small function.
import { lightFormat } from "date-fns/lightFormat";

export type Clock = () => Date;

export const systemClock: Clock = () => new Date();

export function utcDay(at: Date): string {
  return lightFormat(new UTCDate(at), "yyyy-MM-dd");
}

/** True for a real calendar day written YYYY-MM-DD (2026-02-30 is not one). */
export function isCalendarDay(text: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return false;
  const day = new UTCDate(`${text}T00:00:00Z`);
  return !Number.isNaN(day.getTime()) && utcDay(day) === text;
}

/** The timing columns of a backup_logs row for work that ran from `started` to `ended`. */
export function logTiming(started: Date, ended: Date) {
  return {
    started_at: started.toISOString(),
    completed_at: ended.toISOString(),
    duration_ms: ended.getTime() - started.getTime(),
  };
}
