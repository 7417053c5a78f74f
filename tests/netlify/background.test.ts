/**
 * daily-tenant-backup-background: the daily run with a budget for Netlify's 15-minute background functions,
 * let in exactly like daily-tenant-backup (the cron secret only, fail closed), its outcome in the log
 * because Netlify throws the answer away.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BACKGROUND_TIME_BUDGET_MS, handleDailyBackgroundRun } from "../../functions/daily-background.ts";
import { setServices } from "../../functions/runtime.ts";
import entry from "../../netlify/functions/daily-tenant-backup-background.ts";
import { call } from "../support/call.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { createTestServices, TEST_CRON_SECRET, type TestServices } from "../support/services.ts";

let db: TestDatabase;
let services: TestServices;
let unconfigured: TestServices;

beforeAll(async () => {
  db = await createTestDatabase("demo");
  services = await createTestServices(db.url);
  unconfigured = await createTestServices(db.url, { CRON_SECRET: "" });
});

afterAll(async () => {
  setServices(undefined);
  await services?.cleanup();
  await unconfigured?.cleanup();
  await db?.drop();
});

const logCount = async () =>
  Number((await db.client.query("select count(*) from backup_logs")).rows[0].count);
const run = (options: Parameters<typeof call>[3], s: TestServices = services) =>
  call(handleDailyBackgroundRun, s, "daily-tenant-backup-background", options);

describe("daily-tenant-backup-background", () => {
  it("budgets 13 minutes, under Netlify's 15, instead of BACKUP_TIME_BUDGET_MS", () => {
    expect(BACKGROUND_TIME_BUDGET_MS).toBe(13 * 60_000);
    expect(handleDailyBackgroundRun.timeBudgetMs).toBe(BACKGROUND_TIME_BUDGET_MS);
    expect(services.config.backup.timeBudgetMs).not.toBe(BACKGROUND_TIME_BUDGET_MS);
  });

  it.each([
    ["no credentials", {}],
    ["a wrong bearer secret", { token: "wrong-secret-wrong-secret" }],
    ["a wrong query secret", { query: { secret: "nope" } }],
  ])("refuses %s with 401, does nothing, and says so in the log", async (_name, options) => {
    const before = await logCount();
    const response = await run(options);
    expect(response.status).toBe(401);
    expect(response.body.error.code).toBe("unauthorized");
    expect(await logCount()).toBe(before);
    expect(services.logLines.join("\n")).toContain("daily background run refused");
  });

  it("lets nobody in when CRON_SECRET is not configured (fail closed)", async () => {
    for (const token of ["", "undefined", TEST_CRON_SECRET]) {
      expect((await run({ token }, unconfigured)).status).toBe(401);
    }
  });

  it("answers 405 to GET and 400 to an unknown body field, like daily-tenant-backup", async () => {
    expect((await run({ method: "GET", token: TEST_CRON_SECRET })).status).toBe(405);
    const extra = await run({ token: TEST_CRON_SECRET, body: { organization_id: "x" } });
    expect(extra.status).toBe(400);
  });

  it("the Netlify entry refuses a call without the secret", async () => {
    setServices(services);
    const response = await entry(
      new Request("http://localhost/.netlify/functions/daily-tenant-backup-background", {
        method: "POST",
        body: "{}",
      }),
    );
    expect(response.status).toBe(401);
  });

  it("with the secret, backs up every tenant and logs the outcome without the secret", async () => {
    const response = await run({ token: TEST_CRON_SECRET });
    expect(response.status).toBe(200);
    expect(response.body.summary.complete).toBe(true);
    expect(response.body.summary.failed_tenants).toBe(0);
    expect(response.body.summary.total_tenants).toBeGreaterThan(0);
    const completed = await db.client.query(
      "select count(*) from backup_logs where backup_type = 'daily_tenant' and status = 'completed'",
    );
    expect(Number(completed.rows[0].count)).toBe(response.body.summary.total_tenants);
    const logs = services.logLines.join("\n");
    expect(logs).toContain("daily background run: all");
    expect(logs).not.toContain(TEST_CRON_SECRET);

    // The next call (a retry, or the scheduled trigger after an external cron) finds the day done.
    const again = await run({ query: { secret: TEST_CRON_SECRET } });
    expect(again.status).toBe(200);
    expect(again.body.tenants.every((t: { status: string }) => t.status === "already_done")).toBe(true);
    expect(services.logLines.join("\n")).not.toContain(TEST_CRON_SECRET);
  });
});
