/** UTC calendar days: "today" for the daily run and every backup_date is the UTC day, whatever the host's zone. */
import { UTCDate } from "@date-fns/utc";
import { format, isValid, parse } from "date-fns";

export function utcDay(at: Date): string {
  return format(new UTCDate(at), "yyyy-MM-dd");
}

/** True for a real calendar day written YYYY-MM-DD (2026-02-30 is not one). */
export function isCalendarDay(text: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return false;
  const parsed = parse(text, "yyyy-MM-dd", new UTCDate(0));
  return isValid(parsed) && format(parsed, "yyyy-MM-dd") === text;
}
