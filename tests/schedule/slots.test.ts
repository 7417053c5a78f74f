/**
 * Slot arithmetic (lib/schedule/slots.ts): pure functions of a schedule and a time, all in UTC, across
 * month and year ends, week boundaries and daylight-saving dates, with every_2_days anchored on even days
 * since 1970-01-01.
 */
import { describe, expect, it } from "vitest";
import { isDue, latestSlotStart, nextRunAt, nextSlotStart, type Schedule } from "../../lib/schedule/slots.ts";

const daily = (time_of_day: string): Schedule => ({
  frequency: "daily",
  time_of_day,
  day_of_week: null,
  enabled: true,
});
const every2 = (time_of_day: string): Schedule => ({
  frequency: "every_2_days",
  time_of_day,
  day_of_week: null,
  enabled: true,
});
const weekly = (day_of_week: number, time_of_day: string): Schedule => ({
  frequency: "weekly",
  time_of_day,
  day_of_week,
  enabled: true,
});

const at = (iso: string) => new Date(iso);
const latest = (s: Schedule, iso: string) => latestSlotStart(s, at(iso))?.toISOString() ?? null;
const next = (s: Schedule, iso: string) => nextSlotStart(s, at(iso))?.toISOString() ?? null;

describe("daily", () => {
  it("has today's slot once its time has come, yesterday's before", () => {
    expect(latest(daily("02:00"), "2026-11-22T01:59:59.999Z")).toBe("2026-11-21T02:00:00.000Z");
    expect(latest(daily("02:00"), "2026-11-22T02:00:00.000Z")).toBe("2026-11-22T02:00:00.000Z");
    expect(next(daily("02:00"), "2026-11-22T02:00:00.000Z")).toBe("2026-11-23T02:00:00.000Z");
  });

  it("crosses month and year ends, and February of a leap year", () => {
    expect(latest(daily("23:30"), "2026-12-01T00:10:00Z")).toBe("2026-11-30T23:30:00.000Z");
    expect(next(daily("00:00"), "2026-12-31T23:59:00Z")).toBe("2027-01-01T00:00:00.000Z");
    expect(next(daily("06:15"), "2028-02-28T07:00:00Z")).toBe("2028-02-29T06:15:00.000Z");
    expect(next(daily("06:15"), "2027-02-28T07:00:00Z")).toBe("2027-03-01T06:15:00.000Z");
  });

  it("is 24 hours apart on daylight-saving change days (UTC has none)", () => {
    // 2026-03-29 and 2026-10-25: Europe changes clocks; 2026-03-08 and 2026-11-01: the US.
    for (const day of ["2026-03-29", "2026-10-25", "2026-03-08", "2026-11-01"]) {
      const start = latestSlotStart(daily("02:30"), at(`${day}T12:00:00Z`));
      const following = nextSlotStart(daily("02:30"), at(`${day}T12:00:00Z`));
      expect(start?.toISOString()).toBe(`${day}T02:30:00.000Z`);
      expect((following?.getTime() ?? 0) - (start?.getTime() ?? 0)).toBe(86_400_000);
    }
  });
});

describe("every_2_days", () => {
  it("falls on even days since 1970-01-01, whenever it is asked", () => {
    // 2026-11-23 is day 20780 (even); 2026-11-22 and 2026-11-24 are odd.
    expect(Date.UTC(2026, 10, 23) / 86_400_000).toBe(20780);
    expect(latest(every2("02:00"), "2026-11-23T03:00:00Z")).toBe("2026-11-23T02:00:00.000Z");
    expect(latest(every2("02:00"), "2026-11-24T23:00:00Z")).toBe("2026-11-23T02:00:00.000Z");
    expect(latest(every2("02:00"), "2026-11-23T01:00:00Z")).toBe("2026-11-21T02:00:00.000Z");
    expect(next(every2("02:00"), "2026-11-24T23:00:00Z")).toBe("2026-11-25T02:00:00.000Z");
    expect(latest(every2("00:00"), "1970-01-02T12:00:00Z")).toBe("1970-01-01T00:00:00.000Z");
  });

  it("keeps its two-day rhythm across a 31-day month end, where the day of the month's parity flips", () => {
    // Slots on 2026-12-29, 2026-12-31 (days 20816, 20818), then 2027-01-02: not on the 1st.
    expect(next(every2("12:00"), "2026-12-30T13:00:00Z")).toBe("2026-12-31T12:00:00.000Z");
    expect(next(every2("12:00"), "2026-12-31T13:00:00Z")).toBe("2027-01-02T12:00:00.000Z");
    expect(latest(every2("12:00"), "2027-01-02T11:59:00Z")).toBe("2026-12-31T12:00:00.000Z");
  });
});

describe("weekly", () => {
  it("falls on its day of the week (Sunday 0) at its time", () => {
    // 2026-11-22 is a Sunday.
    expect(latest(weekly(0, "02:00"), "2026-11-22T02:00:00Z")).toBe("2026-11-22T02:00:00.000Z");
    expect(latest(weekly(0, "02:00"), "2026-11-22T01:59:00Z")).toBe("2026-11-15T02:00:00.000Z");
    expect(latest(weekly(3, "05:00"), "2026-11-22T12:00:00Z")).toBe("2026-11-18T05:00:00.000Z");
    expect(next(weekly(3, "05:00"), "2026-11-22T12:00:00Z")).toBe("2026-11-25T05:00:00.000Z");
    expect(next(weekly(6, "23:59"), "2026-11-28T23:59:00Z")).toBe("2026-12-05T23:59:00.000Z");
  });

  it("crosses a week, month and year boundary", () => {
    // Monday 2026-12-28 → the next Monday is 2027-01-04.
    expect(next(weekly(1, "08:00"), "2026-12-28T09:00:00Z")).toBe("2027-01-04T08:00:00.000Z");
    expect(latest(weekly(1, "08:00"), "2027-01-03T23:00:00Z")).toBe("2026-12-28T08:00:00.000Z");
  });
});

describe("off and disabled", () => {
  it("have no slots, so nothing is ever due", () => {
    const off: Schedule = { frequency: "off", time_of_day: "02:00", day_of_week: null, enabled: true };
    const disabled: Schedule = { ...daily("02:00"), enabled: false };
    for (const schedule of [off, disabled]) {
      expect(latestSlotStart(schedule, at("2026-11-22T12:00:00Z"))).toBeNull();
      expect(nextSlotStart(schedule, at("2026-11-22T12:00:00Z"))).toBeNull();
      expect(isDue(schedule, null, at("2026-11-22T12:00:00Z"))).toBe(false);
    }
  });
});

describe("due", () => {
  it("is due once a slot has started until a scheduled backup completes after its start", () => {
    const s = daily("02:00");
    expect(isDue(s, null, at("2026-11-22T02:00:00Z"))).toBe(true);
    expect(isDue(s, at("2026-11-22T01:59:00Z"), at("2026-11-22T02:30:00Z"))).toBe(true);
    expect(isDue(s, at("2026-11-22T02:05:00Z"), at("2026-11-22T02:30:00Z"))).toBe(false);
    expect(isDue(s, at("2026-11-22T02:05:00Z"), at("2026-11-23T01:59:00Z"))).toBe(false);
    expect(isDue(s, at("2026-11-22T02:05:00Z"), at("2026-11-23T02:00:00Z"))).toBe(true);
  });

  it("says when the next run is: the open slot's start while due, the next slot's once done", () => {
    const s = weekly(3, "05:00");
    expect(nextRunAt(s, null, at("2026-11-22T12:00:00Z"))?.toISOString()).toBe("2026-11-18T05:00:00.000Z");
    expect(nextRunAt(s, at("2026-11-22T12:01:00Z"), at("2026-11-22T13:00:00Z"))?.toISOString()).toBe(
      "2026-11-25T05:00:00.000Z",
    );
  });
});
