import { describe, expect, it } from "vitest";
import type { StoredBackup } from "../../lib/backup/inventory.ts";
import { expiredOffsite, isoWeekOf, offsiteCutoff, weeklyCandidates } from "../../lib/offsite/plan.ts";

const b = (date: string, id: string): StoredBackup => ({
  backupId: id,
  date,
  summaryPath: `tenant-backups/t/${date}/summary-${id}.json`,
});

describe("off-site plan", () => {
  it("finds the ISO week's Monday, across a year's end", () => {
    expect(isoWeekOf("2026-11-16")).toBe("2026-11-16");
    expect(isoWeekOf("2026-11-22")).toBe("2026-11-16");
    expect(isoWeekOf("2027-01-01")).toBe("2026-12-28");
  });

  it("groups by ISO week, oldest first in each, and leaves out backups dated before the cutoff", () => {
    const backups = [
      b("2026-11-23", "20261123T020000000Z-0004"),
      b("2026-11-18", "20261118T020000000Z-0003"),
      b("2026-11-16", "20261116T090000000Z-0002"),
      b("2026-11-16", "20261116T020000000Z-0001"),
      b("2026-11-08", "20261108T020000000Z-0000"),
    ];
    const cutoff = offsiteCutoff("2026-12-10", 24); // 2026-11-16
    expect(cutoff).toBe("2026-11-16");
    expect(weeklyCandidates(backups, cutoff).map((week) => week.map((x) => x.backupId.slice(-4)))).toEqual([
      ["0001", "0002", "0003"],
      ["0004"],
    ]);
    // In the cutoff's week, backups dated before it are left out (retention would remove them at once):
    // the first backup on or after the cutoff stands for the week.
    expect(weeklyCandidates(backups, "2026-11-17").map((week) => week[0]?.backupId.slice(-4))).toEqual([
      "0003",
      "0004",
    ]);
    expect(weeklyCandidates(backups, "2026-11-22").map((week) => week[0]?.backupId.slice(-4))).toEqual([
      "0004",
    ]);
  });

  it("expires copies dated before the cutoff, never the newest", () => {
    const newestFirst = [b("2026-08-01", "c"), b("2026-07-01", "b"), b("2026-06-01", "a")];
    expect(expiredOffsite(newestFirst, "2026-09-01").map((x) => x.backupId)).toEqual(["b", "a"]);
    expect(expiredOffsite(newestFirst, "2026-06-15").map((x) => x.backupId)).toEqual(["a"]);
    expect(expiredOffsite([], "2026-06-15")).toEqual([]);
  });
});
