/**
 * Midnight: a scheduled run cut off at 23:59:57 (its run left running, as a kill or the time budget
 * leaves it) and continued after midnight finishes as that day's backup, covering the slot it started
 * in. Day D then has its backup, as backup-health's "ok" implies; the other tenants, due for the same
 * slot, are backed up on the day they run (scheduled backups are dated the UTC day they run).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dailyRun } from "../../functions/daily-tenant-backup.ts";
import { installSmallApp } from "../operations/small-app.ts";
import { deadlineIn, storageTakingTime } from "../support/clock.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { createTestServices, type TestServices } from "../support/services.ts";

let db: TestDatabase;
let services: TestServices;

beforeAll(async () => {
  db = await createTestDatabase("migrated");
  await installSmallApp(db.owner);
  // One tenant at a time, so that the budget cuts the run inside the first tenant.
  const base = await createTestServices(db.url, {
    BACKUP_TENANT_CONCURRENCY: "1",
    BACKUP_PAGE_ROWS: "5",
    BACKUP_MAX_FILE_BYTES: "200",
  });
  // Every stored file takes a second of the clock: the run crosses midnight part by part.
  services = { ...base, storage: storageTakingTime(base.storage, base.clock, 1000) };
});

afterAll(async () => {
  await services?.cleanup();
  await db?.drop();
});

const dailyBackups = async () =>
  (
    await db.client.query(
      `select organization_id, backup_date::text as day from backup_logs
        where backup_type = 'daily_tenant' and status = 'completed' order by 2, 1`,
    )
  ).rows;

describe("a daily run cut off just before midnight", () => {
  it("is finished after midnight as that day's backup", async () => {
    services.clock.set("2026-11-20T23:59:57Z");
    const first = await dailyRun(services, deadlineIn(services, 2000));
    expect(first.status).toBe(202);
    expect(first.body.tenants[0]?.status).toBe("incomplete");

    services.clock.set("2026-11-21T00:00:05Z");
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++) {
      const { status } = await dailyRun(services, deadlineIn(services, 60_000));
      statuses.push(status);
      if (status !== 202) break;
    }
    expect(statuses.at(-1)).toBe(200);

    const days = await dailyBackups();
    // The tenant whose run started on the 20th has the 20th's backup, and it covers that slot (the
    // 21st's starts at 02:00); the others run after midnight for the same slot.
    expect(days.filter((d) => d.day === "2026-11-20").map((d) => d.organization_id)).toEqual(["org-a"]);
    expect(days.filter((d) => d.day === "2026-11-21").map((d) => d.organization_id)).toEqual([
      "org-b",
      "org-c",
    ]);
    // Nothing of the 20th was given up as failed.
    const failed = await db.client.query(
      "select count(*)::int as n from backup_logs where status = 'failed'",
    );
    expect(failed.rows[0].n).toBe(0);
  });
});
