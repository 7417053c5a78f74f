/**
 * backup-health: 200 while every tenant's newest completed backup is younger than HEALTH_MAX_AGE_HOURS,
 * 503 otherwise, so that an uptime monitor can alert on the status alone.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handleBackupHealth } from "../../functions/backup-health.ts";
import { handleDailyTenantBackup } from "../../functions/daily-tenant-backup.ts";
import { handleDeleteBackup } from "../../functions/delete-backup.ts";
import { call } from "../support/call.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { createTestServices, TEST_CRON_SECRET, type TestServices } from "../support/services.ts";
import { installSmallApp, ORG_A, ORG_B, ORG_C } from "./small-app.ts";

let db: TestDatabase;
let services: TestServices;
const opened: TestServices[] = [];

beforeAll(async () => {
  db = await createTestDatabase("migrated");
  await installSmallApp(db.owner);
  services = await createTestServices(db.url);
  opened.push(services);
});

afterAll(async () => {
  for (const s of opened) await s.cleanup();
  await db?.drop();
});

const health = (query: Record<string, string> = {}, s: TestServices = services) =>
  call(handleBackupHealth, s, "backup-health", {
    method: "GET",
    query: { secret: TEST_CRON_SECRET, ...query },
  });

describe("backup-health", () => {
  it("answers 503 naming the tenants without a backup", async () => {
    const response = await health();
    expect(response.status).toBe(503);
    expect(response.body).toMatchObject({
      success: false,
      healthy: false,
      total_tenants: 3,
      missing_tenants: 3,
    });
    expect(response.body.error.code).toBe("unavailable");
    expect(response.body.tenants[0]).toMatchObject({ status: "missing", age_hours: null });
  });

  it("answers 200 once every tenant has a fresh backup, with each one's age", async () => {
    const daily = await call(handleDailyTenantBackup, services, "daily-tenant-backup", {
      token: TEST_CRON_SECRET,
    });
    expect(daily.status).toBe(200);
    const response = await health();
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ success: true, healthy: true, ok_tenants: 3, max_age_hours: 26 });
    for (const tenant of response.body.tenants) {
      expect(tenant.status).toBe("ok");
      expect(tenant.age_hours).toBeGreaterThanOrEqual(0);
      expect(tenant.age_hours).toBeLessThan(1);
      expect(tenant.backup_type).toBe("daily");
    }
  });

  it("answers 503 when a tenant's newest backup is older than HEALTH_MAX_AGE_HOURS", async () => {
    await db.client.query(
      "update tenant_backup_runs set completed_at = now() - interval '30 hours' where organization_id = $1",
      [ORG_B],
    );
    const response = await health();
    expect(response.status).toBe(503);
    expect(response.body.stale_tenants).toBe(1);
    const b = response.body.tenants.find((t: { organization_id: string }) => t.organization_id === ORG_B);
    expect(b.status).toBe("stale");
    expect(b.age_hours).toBeGreaterThan(29.9);
    // One tenant at a time, for the admin page of that organization.
    expect((await health({ organization_id: ORG_A })).status).toBe(200);
    expect((await health({ organization_id: ORG_B })).status).toBe(503);
    expect((await health({ organization_id: "org-none" })).status).toBe(404);

    const lenient = await createTestServices(db.url, { HEALTH_MAX_AGE_HOURS: "48" });
    opened.push(lenient);
    expect((await health({}, lenient)).status).toBe(200);
  });

  it("does not count a backup that has since been deleted", async () => {
    const before = await health({ organization_id: ORG_C });
    expect(before.status).toBe(200);
    const deleted = await call(handleDeleteBackup, services, "delete-backup", {
      token: TEST_CRON_SECRET,
      body: { organization_id: ORG_C, backup_id: before.body.tenants[0].backup_id, force: true },
    });
    expect(deleted.status).toBe(200);
    const after = await health({ organization_id: ORG_C });
    expect(after.status).toBe(503);
    expect(after.body.tenants[0].status).toBe("missing");
  });

  it("refuses callers without credentials and bad input", async () => {
    expect((await call(handleBackupHealth, services, "backup-health", { method: "GET" })).status).toBe(401);
    const bad = await health({ organization_id: "no/slashes" });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.field).toBe("organization_id");
    expect(
      (await call(handleBackupHealth, services, "backup-health", { method: "POST", token: TEST_CRON_SECRET }))
        .status,
    ).toBe(405);
  });
});
