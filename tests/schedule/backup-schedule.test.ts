/**
 * backup-schedule: GET answers the tenant's schedule (the configured default until one is set) with its
 * next run; PUT sets one, refusing a bad body with a 400 that names the field; list-backups shows the
 * schedule; backup-health judges a weekly tenant by its week, not by a day.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handleBackupHealth } from "../../functions/backup-health.ts";
import { handleBackupSchedule } from "../../functions/backup-schedule.ts";
import { handleListBackups } from "../../functions/list-backups.ts";
import { installSmallApp, ORG_A, ORG_B } from "../operations/small-app.ts";
import { call, send } from "../support/call.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { createTestServices, TEST_CRON_SECRET, type TestServices } from "../support/services.ts";

let db: TestDatabase;
let services: TestServices;

beforeAll(async () => {
  db = await createTestDatabase("migrated");
  await installSmallApp(db.owner);
  services = await createTestServices(db.url, {
    DEFAULT_SCHEDULE_FREQUENCY: "every_2_days",
    DEFAULT_SCHEDULE_TIME: "03:30",
  });
  // A Sunday; day 20779 since 1970-01-01 (odd).
  services.clock.set("2026-11-22T12:00:00Z");
});

afterAll(async () => {
  await services?.cleanup();
  await db?.drop();
});

const get = (organizationId: string) =>
  call(handleBackupSchedule, services, "backup-schedule", {
    method: "GET",
    token: TEST_CRON_SECRET,
    query: { organization_id: organizationId },
  });
const put = (body: unknown) =>
  call(handleBackupSchedule, services, "backup-schedule", { method: "PUT", token: TEST_CRON_SECRET, body });

describe("backup-schedule", () => {
  it("answers the configured default for a tenant without a schedule of its own", async () => {
    const response = await get(ORG_B);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      success: true,
      schedule: {
        organization_id: ORG_B,
        frequency: "every_2_days",
        time_of_day: "03:30",
        day_of_week: null,
        enabled: true,
        // Never backed up by schedule: the latest slot (the even day before) is due now.
        next_run_at: "2026-11-21T03:30:00.000Z",
        last_run_at: null,
        is_default: true,
      },
    });
  });

  it("sets a weekly schedule and answers its next run", async () => {
    const body = { organization_id: ORG_A, frequency: "weekly", time_of_day: "05:00", day_of_week: 3 };
    const response = await put(body);
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    expect(response.body.schedule).toMatchObject({
      ...body,
      enabled: true,
      is_default: false,
      last_run_at: null,
    });
    const read = await get(ORG_A);
    expect(read.body.schedule).toEqual(response.body.schedule);
    const row = await db.client.query(
      "select frequency, day_of_week, next_run_at from tenant_backup_schedules",
    );
    expect(row.rows).toEqual([
      { frequency: "weekly", day_of_week: 3, next_run_at: new Date(response.body.schedule.next_run_at) },
    ]);
  });

  it("turns scheduled backups off and says there is no next run", async () => {
    const response = await put({
      organization_id: ORG_A,
      frequency: "daily",
      time_of_day: "01:00",
      enabled: false,
    });
    expect(response.status).toBe(200);
    expect(response.body.schedule).toMatchObject({ frequency: "daily", enabled: false, next_run_at: null });
  });

  it.each([
    [{ frequency: "weekly", time_of_day: "05:00" }, "day_of_week", "required for a weekly schedule"],
    [{ frequency: "daily", time_of_day: "05:00", day_of_week: 2 }, "day_of_week", "must be null"],
    [{ frequency: "weekly", time_of_day: "05:00", day_of_week: 7 }, "day_of_week", "0 (Sunday) to 6"],
    [{ frequency: "daily", time_of_day: "24:00" }, "time_of_day", "HH:MM"],
    [{ frequency: "daily", time_of_day: "5:00" }, "time_of_day", "HH:MM"],
    [{ frequency: "daily" }, "time_of_day", "required"],
    [{ frequency: "hourly", time_of_day: "05:00" }, "frequency", "every_2_days"],
    [{ frequency: "daily", time_of_day: "05:00", enabled: "yes" }, "enabled", "true or false"],
    [{ frequency: "daily", time_of_day: "05:00", next_run_at: "2026-11-23T00:00:00Z" }, "next_run_at", ""],
  ])("refuses %j naming %s", async (fields, field, words) => {
    const before = await db.client.query("select * from tenant_backup_schedules order by 1");
    const response = await put({ organization_id: ORG_A, ...fields });
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe("bad_request");
    expect(response.body.error.message).toContain(field);
    expect(response.body.error.message).toContain(words);
    expect((await db.client.query("select * from tenant_backup_schedules order by 1")).rows).toEqual(
      before.rows,
    );
  });

  it("answers 404 for an organization that does not exist, and 405 naming GET and PUT", async () => {
    expect((await get("org-nope")).status).toBe(404);
    expect((await put({ organization_id: "org-nope", frequency: "off", time_of_day: "00:00" })).status).toBe(
      404,
    );
    const post = await send(handleBackupSchedule, services, "backup-schedule", {
      method: "POST",
      token: TEST_CRON_SECRET,
      body: {},
    });
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toBe("GET, PUT");
  });

  it("shows the schedule and next run in list-backups", async () => {
    await put({ organization_id: ORG_A, frequency: "weekly", time_of_day: "05:00", day_of_week: 3 });
    const list = await call(handleListBackups, services, "list-backups", {
      method: "GET",
      token: TEST_CRON_SECRET,
      query: { organization_id: ORG_A },
    });
    expect(list.status).toBe(200);
    expect(list.body.schedule).toEqual((await get(ORG_A)).body.schedule);
    expect(list.body.schedule.frequency).toBe("weekly");
  });
});

describe("backup-health with schedules", () => {
  it("keeps a weekly tenant fresh for a week and a bit, a daily one for 26 hours", async () => {
    // Backups completed three days ago (the database stamps completion with its own clock).
    await db.client.query(
      `insert into tenant_backup_runs (backup_id, organization_id, backup_date, backup_type, status, completed_at)
       values ('20261119T120000000Z-aaaa', $1, '2026-11-19', 'daily', 'completed', now() - interval '3 days'),
              ('20261119T120000000Z-bbbb', $2, '2026-11-19', 'daily', 'completed', now() - interval '3 days')`,
      [ORG_A, ORG_B],
    );
    await put({ organization_id: ORG_B, frequency: "daily", time_of_day: "02:00" });
    services.clock.set(new Date());
    const health = await call(handleBackupHealth, services, "backup-health", {
      method: "GET",
      query: { secret: TEST_CRON_SECRET },
    });
    const byId = Object.fromEntries(
      health.body.tenants.map((t: { organization_id: string }) => [t.organization_id, t]),
    );
    expect(byId[ORG_A]).toMatchObject({ status: "ok", max_age_hours: 170 });
    expect(byId[ORG_B]).toMatchObject({ status: "stale", max_age_hours: 26 });

    // Eight days old: past a week and a bit.
    await db.client.query("update tenant_backup_runs set completed_at = now() - interval '8 days'");
    const later = await call(handleBackupHealth, services, "backup-health", {
      method: "GET",
      query: { secret: TEST_CRON_SECRET, organization_id: ORG_A },
    });
    expect(later.status).toBe(503);
    expect(later.body.tenants[0]).toMatchObject({ status: "stale", max_age_hours: 170 });
  });

  it("does not count a tenant whose schedule is off as unhealthy", async () => {
    await db.client.query("update tenant_backup_runs set completed_at = now() - interval '1 hour'");
    await put({ organization_id: ORG_A, frequency: "off", time_of_day: "02:00" });
    await put({ organization_id: "org-c", frequency: "off", time_of_day: "02:00" });
    const health = await call(handleBackupHealth, services, "backup-health", {
      method: "GET",
      query: { secret: TEST_CRON_SECRET },
    });
    expect(health.status, JSON.stringify(health.body)).toBe(200);
    expect(health.body).toMatchObject({ healthy: true, unscheduled_tenants: 2, ok_tenants: 1 });
  });
});
