/**
 * The same cron call, made every hour, backs each tenant up at its own time: over 8 days on the test clock a
 * weekly tenant is backed up once a week at its hour, a daily one every day at its hour, and one whose
 * schedule is off never. A second call in the same hour backs nothing up twice; a setup that still calls
 * once a day backs up every tenant due that day.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { handleBackupSchedule } from "../../functions/backup-schedule.ts";
import { handleDailyTenantBackup } from "../../functions/daily-tenant-backup.ts";
import { installSmallApp, ORG_A, ORG_B, ORG_C } from "../operations/small-app.ts";
import { call } from "../support/call.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { createTestServices, TEST_CRON_SECRET, type TestServices } from "../support/services.ts";

const HOUR_MS = 3_600_000;
/** A Monday. */
const START = Date.parse("2026-11-23T00:00:00Z");

let db: TestDatabase;
let services: TestServices;

beforeEach(async () => {
  db = await createTestDatabase("migrated");
  await installSmallApp(db.owner);
  services = await createTestServices(db.url, {}, {});
  services.clock.set(new Date(START));
  // ORG_A weekly on Wednesday (3) at 05:00, ORG_B the default (daily at 02:00), ORG_C off.
  for (const body of [
    { organization_id: ORG_A, frequency: "weekly", time_of_day: "05:00", day_of_week: 3 },
    { organization_id: ORG_C, frequency: "off", time_of_day: "02:00" },
  ]) {
    const put = await call(handleBackupSchedule, services, "backup-schedule", {
      method: "PUT",
      token: TEST_CRON_SECRET,
      body,
    });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
  }
});

afterEach(async () => {
  await services.cleanup();
  await db.drop();
});

/** One cron call at `at`; answers the tenants it backed up (completed now, not earlier). */
async function cronAt(at: number): Promise<string[]> {
  services.clock.set(new Date(at));
  const response = await call(handleDailyTenantBackup, services, "daily-tenant-backup", {
    token: TEST_CRON_SECRET,
  });
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  return response.body.tenants
    .filter((t: { status: string }) => t.status === "completed")
    .map((t: { organization_id: string }) => t.organization_id);
}

/** Calls the cron at each of `times`; answers, per tenant, the times (ISO) at which it was backed up. */
async function run(times: number[], twice = false) {
  const backedUp: Record<string, string[]> = { [ORG_A]: [], [ORG_B]: [], [ORG_C]: [] };
  for (const at of times) {
    const done = await cronAt(at);
    for (const tenant of done) backedUp[tenant]?.push(new Date(at).toISOString());
    if (twice && done.length > 0) expect(await cronAt(at + 60_000)).toEqual([]);
  }
  return backedUp;
}

async function loggedDailyBackups() {
  const { rows } = await db.client.query<{ organization_id: string; n: number }>(
    `select organization_id, count(*)::int as n from backup_logs
     where backup_type = 'daily_tenant' and status = 'completed' group by 1 order by 1`,
  );
  return Object.fromEntries(rows.map((r) => [r.organization_id, r.n]));
}

describe("the hourly cron call", () => {
  it("backs a weekly tenant up once a week at its hour and a daily one every day, over 8 days", async () => {
    const hours = Array.from({ length: 8 * 24 + 1 }, (_, h) => START + h * HOUR_MS);
    const backedUp = await run(hours, true);

    // The first call catches up on each tenant's latest slot (none had a scheduled backup yet); after
    // that, each is backed up at the start of each of its slots.
    expect(backedUp[ORG_A]).toEqual(["2026-11-23T00:00:00.000Z", "2026-11-25T05:00:00.000Z"]);
    expect(backedUp[ORG_B]).toEqual([
      "2026-11-23T00:00:00.000Z",
      ...[23, 24, 25, 26, 27, 28, 29, 30].map((d) => `2026-11-${d}T02:00:00.000Z`),
    ]);
    expect(backedUp[ORG_C]).toEqual([]);
    expect(await loggedDailyBackups()).toEqual({ [ORG_A]: 2, [ORG_B]: 9 });
  });

  it("still backs up every tenant due that day when called once a day", async () => {
    // An existing setup calling at 01:00 each day: before the default 02:00 slot, so each call takes the
    // previous day's slot; the weekly tenant's Wednesday 05:00 slot is taken on Thursday at 01:00.
    const days = Array.from({ length: 8 }, (_, d) => START + d * 24 * HOUR_MS + HOUR_MS);
    const backedUp = await run(days);
    expect(backedUp[ORG_A]).toEqual(["2026-11-23T01:00:00.000Z", "2026-11-26T01:00:00.000Z"]);
    expect(backedUp[ORG_B]).toHaveLength(8);
    expect(backedUp[ORG_C]).toEqual([]);
  });

  it("decides again under each tenant's lease, so a call made at the same time backs nothing up twice", async () => {
    // The second call read the schedules before the first one backed anyone up (a stale view, as when two
    // calls start together); it must still find each tenant covered once it holds the tenant's lease.
    const staleSchedules = await services.db.listSchedules();
    expect(await cronAt(START)).toEqual([ORG_A, ORG_B]);
    const db = Object.create(services.db, { listSchedules: { value: async () => staleSchedules } });
    services.clock.set(new Date(START + 60_000));
    const second = await call(handleDailyTenantBackup, { ...services, db }, "daily-tenant-backup", {
      token: TEST_CRON_SECRET,
    });
    expect(second.status).toBe(200);
    expect(second.body.tenants.map((t: { status: string }) => t.status)).toEqual([
      "already_done",
      "already_done",
      "not_scheduled",
    ]);
    expect(second.body.summary.total_records).toBeGreaterThan(0);
    expect(await loggedDailyBackups()).toEqual({ [ORG_A]: 1, [ORG_B]: 1 });
  });

  it("answers already_done for tenants covered and not_scheduled for those off", async () => {
    await cronAt(START);
    services.clock.set(new Date(START + 30 * 60_000));
    const again = await call(handleDailyTenantBackup, services, "daily-tenant-backup", {
      token: TEST_CRON_SECRET,
    });
    expect(again.status).toBe(200);
    const status = Object.fromEntries(
      again.body.tenants.map((t: { organization_id: string; status: string }) => [
        t.organization_id,
        t.status,
      ]),
    );
    expect(status).toEqual({ [ORG_A]: "already_done", [ORG_B]: "already_done", [ORG_C]: "not_scheduled" });
    expect(again.body.summary).toMatchObject({
      complete: true,
      successful_tenants: 2,
      not_scheduled_tenants: 1,
      failed_tenants: 0,
      remaining_tenants: 0,
    });
    expect(again.body.summary.total_records).toBeGreaterThan(0);
  });
});
