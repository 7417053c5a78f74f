/** UTC calendar days: "today" for the daily run and every backup_date is the UTC day, whatever the host's zone. */
import { UTCDate } from "@date-fns/utc";
// lightFormat from its own entry point: the package index (and format/parse) load every locale, about
// 100 MB of memory in a small function.
import { lightFormat } from "date-fns/lightFormat";

export function utcDay(at: Date): string {
  return lightFormat(new UTCDate(at), "yyyy-MM-dd");
}

/** True for a real calendar day written YYYY-MM-DD (2026-02-30 is not one). */
export function isCalendarDay(text: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return false;
  const day = new UTCDate(`${text}T00:00:00Z`);
  return !Number.isNaN(day.getTime()) && utcDay(day) === text;
}
