/** The retention rules on their own: which backups a tenant keeps, and why. */
import { describe, expect, it } from "vitest";
import { planRetention } from "../../lib/retention/policy.ts";

/** A backup taken at noon UTC of `date`: ids sort like their start times, as real ones do. */
const at = (date: string, hour = 12) => ({
  backupId: `${date.replaceAll("-", "")}T${String(hour).padStart(2, "0")}0000000Z-abcd`,
  date,
});
const ids = (list: { backup: { date: string } }[]) => list.map((x) => x.backup.date);
const TODAY = new Date("2026-11-22T18:00:00.000Z"); // a Sunday
const off = { days: 30, keepLast: 0, keepWeeklyWeeks: 0, maxBackups: 0 };

describe("planRetention", () => {
  it("keeps what is within RETENTION_DAYS, the day RETENTION_DAYS ago included", () => {
    const plan = planRetention(
      [at("2026-11-22"), at("2026-10-23"), at("2026-10-22"), at("2026-09-01")],
      off,
      TODAY,
    );
    expect(plan.cutoff).toBe("2026-10-23");
    expect(ids(plan.keep)).toEqual(["2026-11-22", "2026-10-23"]);
    expect(ids(plan.remove)).toEqual(["2026-10-22", "2026-09-01"]);
    expect(plan.remove[0]?.reason).toContain("older than 30 days");
  });

  it("always keeps the newest backup, however old", () => {
    const plan = planRetention([at("2025-01-01"), at("2025-03-01")], off, TODAY);
    expect(ids(plan.keep)).toEqual(["2025-03-01"]);
    expect(plan.keep[0]?.reasons).toEqual(["newest backup"]);
    expect(ids(plan.remove)).toEqual(["2025-01-01"]);
  });

  it("keeps nothing from an empty list and deletes nothing", () => {
    expect(planRetention([], off, TODAY)).toMatchObject({ keep: [], remove: [] });
  });

  it("keeps the last N whatever their age (RETENTION_KEEP_LAST)", () => {
    const backups = ["2026-01-05", "2026-02-05", "2026-03-05", "2026-04-05"].map((d) => at(d));
    const plan = planRetention(backups, { ...off, keepLast: 3 }, TODAY);
    expect(ids(plan.keep)).toEqual(["2026-04-05", "2026-03-05", "2026-02-05"]);
    expect(ids(plan.remove)).toEqual(["2026-01-05"]);
  });

  it("keeps the newest backup of each of the last N ISO weeks (RETENTION_KEEP_WEEKLY_WEEKS)", () => {
    // The 8 weeks: this one (Mon 16 Nov) and the 7 before it, back to the week of Mon 28 Sep.
    const backups = [
      at("2026-11-22"), // this week, and the newest backup anyway
      at("2026-10-14"), // past the 30 days (cutoff 23 Oct); newest of the week of 12 Oct: kept
      at("2026-10-13", 18), // same week, older: deleted
      at("2026-10-12"), // same week, older: deleted
      at("2026-10-04"), // a Sunday: the week of 28 Sep, the 8th week: kept
      at("2026-09-27"), // the week of 21 Sep, the 9th week back: deleted
    ];
    const plan = planRetention(backups, { ...off, keepWeeklyWeeks: 8 }, TODAY);
    expect(ids(plan.keep)).toEqual(["2026-11-22", "2026-10-14", "2026-10-04"]);
    expect(plan.keep.find((k) => k.backup.date === "2026-10-14")?.reasons).toEqual([
      "newest of the week of 2026-10-12",
    ]);
    expect(ids(plan.remove)).toEqual(["2026-10-13", "2026-10-12", "2026-09-27"]);
  });

  it("gives every reason that keeps a backup", () => {
    const plan = planRetention([at("2026-11-20")], { ...off, keepLast: 1, keepWeeklyWeeks: 1 }, TODAY);
    expect(plan.keep[0]?.reasons).toEqual([
      "newest backup",
      "within 30 days",
      "one of the last 1",
      "newest of the week of 2026-11-16",
    ]);
  });

  describe("RETENTION_MAX_BACKUPS", () => {
    const daily = (from: number, count: number) =>
      Array.from({ length: count }, (_, i) => at(`2026-11-${String(from - i).padStart(2, "0")}`, 1));

    it("removes the backups past the N newest, even those the age rules keep", () => {
      // Ten daily backups at 01:00, all within 30 days; it is 18:00 on the 22nd.
      const plan = planRetention(daily(21, 10), { ...off, maxBackups: 4 }, TODAY);
      expect(ids(plan.keep)).toEqual(["2026-11-21", "2026-11-20", "2026-11-19", "2026-11-18"]);
      expect(ids(plan.remove)).toEqual(daily(17, 6).map((b) => b.date));
      expect(plan.remove[0]?.reason).toBe("beyond the 4 newest (RETENTION_MAX_BACKUPS)");
    });

    it("changes nothing at 0 (off)", () => {
      const plan = planRetention(daily(21, 10), off, TODAY);
      expect(plan.keep).toHaveLength(10);
      expect(plan.remove).toEqual([]);
    });

    it("never removes a backup started less than a day ago, such as a fresh undo point", () => {
      const backups = [
        at("2026-11-22", 17), // newest
        at("2026-11-22", 16), // an undo point taken by a restore an hour later: under a day old
        at("2026-11-21", 19), // 23 h old
        at("2026-11-21", 17), // 25 h old: the cap applies
        at("2026-11-20", 12),
      ];
      const plan = planRetention(backups, { ...off, maxBackups: 1 }, TODAY);
      expect(plan.keep.map((k) => k.backup.backupId)).toEqual(backups.slice(0, 3).map((b) => b.backupId));
      expect(plan.remove.map((r) => r.backup.backupId)).toEqual(backups.slice(3).map((b) => b.backupId));
    });

    it("keeps the newest even when it is old and the cap is 1", () => {
      const plan = planRetention([at("2025-01-01"), at("2025-03-01")], { ...off, maxBackups: 1 }, TODAY);
      expect(ids(plan.keep)).toEqual(["2025-03-01"]);
      expect(ids(plan.remove)).toEqual(["2025-01-01"]);
    });
  });
});
