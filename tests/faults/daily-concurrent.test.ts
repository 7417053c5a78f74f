/**
 * Five daily calls at once (a cron retry racing a manual trigger, several instances): each tenant gets
 * exactly one daily backup, because "done today" is decided while holding the tenant's lease.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handleDailyTenantBackup } from "../../functions/daily-tenant-backup.ts";
import { installSmallApp } from "../operations/small-app.ts";
import { call } from "../support/call.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { createTestServices, TEST_CRON_SECRET, type TestServices } from "../support/services.ts";

let db: TestDatabase;
let services: TestServices;

beforeAll(async () => {
  db = await createTestDatabase("migrated");
  await installSmallApp(db.owner);
  services = await createTestServices(db.url);
});

afterAll(async () => {
  await services?.cleanup();
  await db?.drop();
});

describe("concurrent daily calls", () => {
  it("make exactly one daily backup per tenant", async () => {
    const answers = await Promise.all(
      Array.from({ length: 5 }, () =>
        call(handleDailyTenantBackup, services, "daily-tenant-backup", { token: TEST_CRON_SECRET }),
      ),
    );
    for (const answer of answers) expect(answer.status).toBeLessThan(300);
    const { rows } = await db.client.query(
      `select organization_id, count(*)::int as n from backup_logs
        where backup_type = 'daily_tenant' and status = 'completed' group by 1 order by 1`,
    );
    expect(rows).toEqual([
      { organization_id: "org-a", n: 1 },
      { organization_id: "org-b", n: 1 },
      { organization_id: "org-c", n: 1 },
    ]);
    // A call after them all finds every tenant done.
    const after = await call(handleDailyTenantBackup, services, "daily-tenant-backup", {
      token: TEST_CRON_SECRET,
    });
    expect(after.body.tenants.map((t: { status: string }) => t.status)).toEqual([
      "already_done",
      "already_done",
      "already_done",
    ]);
  });
});
