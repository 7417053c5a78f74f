/**
 * The daily run on the demo app: every tenant once a day, in the reference layout, logged in backup_logs;
 * a failing tenant does not stop the others; a small time budget makes it continue across calls.
 */
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { handleDailyTenantBackup } from "../../functions/daily-tenant-backup.ts";
import { readManifest } from "../../lib/backup/reader.ts";
import type { BackupStorage } from "../../lib/storage/port.ts";
import { StorageError } from "../../lib/storage/port.ts";
import { DEMO_ORGANIZATIONS, DEMO_TABLES } from "../../scripts/demo/install.ts";
import { onlyManifest, parseRows, readVerifiedFile, rowCounts } from "../support/backup-files.ts";
import { call } from "../support/call.ts";
import { storageTakingTime } from "../support/clock.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { createTestServices, TEST_CRON_SECRET, type TestServices } from "../support/services.ts";

let db: TestDatabase;
const opened: TestServices[] = [];

async function servicesWith(
  env: Record<string, string> = {},
  storage?: (inner: BackupStorage) => BackupStorage,
) {
  const base = await createTestServices(db.url, env);
  opened.push(base);
  return storage ? { ...base, storage: storage(base.storage) } : base;
}

const daily = (services: TestServices) =>
  call(handleDailyTenantBackup, services, "daily-tenant-backup", { token: TEST_CRON_SECRET });

beforeEach(async () => {
  db = await createTestDatabase("demo");
});

afterEach(async () => {
  for (const s of opened.splice(0)) await s.cleanup();
  await db.drop();
});

async function logs() {
  return (
    await db.client.query(
      "select organization_id, backup_type, status, records_count, file_size, duration_ms, error_message from backup_logs order by id",
    )
  ).rows;
}

describe("daily-tenant-backup", () => {
  it("backs up every tenant once a day in the reference layout, and logs it", async () => {
    const services = await servicesWith();
    services.clock.set("2026-11-22T23:59:59.000Z");
    const today = "2026-11-22";
    const first = await daily(services);
    expect(first.status).toBe(200);
    expect(first.body.success).toBe(true);
    expect(first.body.summary).toMatchObject({
      total_tenants: DEMO_ORGANIZATIONS.length,
      successful_tenants: DEMO_ORGANIZATIONS.length,
      failed_tenants: 0,
      complete: true,
    });
    expect(first.body.summary.total_records).toBeGreaterThan(10_000);
    expect(first.body.summary.total_size).toBeGreaterThan(0);

    for (const org of DEMO_ORGANIZATIONS) {
      const dir = join(services.backupDir, "tenant-backups", org.id, today);
      const entries = await readdir(dir);
      const summaries = entries.filter((name) => /^summary-.+\.json$/.test(name));
      expect(summaries).toHaveLength(1);
      const manifest = await readManifest(
        services.storage,
        `tenant-backups/${org.id}/${today}/${summaries[0]}`,
      );
      expect(manifest.tables.map((t) => t.name).sort()).toEqual([...DEMO_TABLES].sort());
      expect(manifest.organization_name).toBe(org.name);
      // Spot check: the tenant's root row is the organization itself.
      const orgTable = manifest.tables.find((t) => t.name === "organizations");
      const rows = parseRows(await readVerifiedFile(services.storage, orgTable?.files[0] as never));
      expect(rows).toHaveLength(1);
      expect(rows[0]?.[0]).toBe(org.id);
    }

    const rows = await logs();
    expect(rows.filter((r) => r.backup_type === "daily_tenant" && r.status === "completed")).toHaveLength(
      DEMO_ORGANIZATIONS.length,
    );
    for (const row of rows) {
      expect(Number(row.records_count)).toBeGreaterThan(0);
      expect(Number(row.file_size)).toBeGreaterThan(0);
      expect(row.duration_ms).not.toBeNull();
    }

    // A second call the same day makes no second backup.
    const second = await daily(services);
    expect(second.status).toBe(200);
    expect(second.body.tenants.every((t: { status: string }) => t.status === "already_done")).toBe(true);
    expect(await logs()).toHaveLength(rows.length);
  });

  it("goes on with the other tenants when one fails, logs the failure, and retries it next call", async () => {
    const victim = DEMO_ORGANIZATIONS[1]?.id as string;
    let broken = true;
    const services = await servicesWith({}, (inner) => ({
      ...inner,
      async put(path, data, type) {
        if (broken && path.includes(`/${victim}/`))
          throw new StorageError("unauthorized", "bucket refused the write");
        return inner.put(path, data, type);
      },
    }));
    const first = await daily(services);
    expect(first.status).toBe(500);
    expect(first.body.summary).toMatchObject({
      failed_tenants: 1,
      successful_tenants: DEMO_ORGANIZATIONS.length - 1,
    });
    const failed = (await logs()).filter((r) => r.status === "failed");
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ organization_id: victim, backup_type: "daily_tenant" });
    expect(failed[0]?.error_message).toContain("bucket refused the write");
    // No summary for the failed tenant: its backup does not exist.
    expect(
      (await services.storage.list(`tenant-backups/${victim}/`)).some((o) => o.path.includes("summary-")),
    ).toBe(false);

    broken = false;
    const second = await daily(services);
    expect(second.status).toBe(200);
    expect(second.body.summary.successful_tenants).toBe(DEMO_ORGANIZATIONS.length);
  });

  it("stops starting new work when the time budget is spent, and later calls finish the job", async () => {
    // Storing a part takes 15 s of a 40 s budget: a call stores three parts, then stops (per-backup files:
    // the chunk layout also stores its naming key once, which would shift the count). One tenant at a
    // time, so that the parts are one tenant's.
    const base = await servicesWith({
      BACKUP_TENANT_CONCURRENCY: "1",
      BACKUP_LAYOUT: "files",
      BACKUP_TIME_BUDGET_MS: "40000",
      BACKUP_PAGE_ROWS: "2000",
    });
    const services = { ...base, storage: storageTakingTime(base.storage, base.clock, 15_000) };
    const first = await daily(services);
    expect(first.status).toBe(202);
    expect(first.body.summary).toMatchObject({
      complete: false,
      remaining_tenants: DEMO_ORGANIZATIONS.length,
    });
    expect(first.body.tenants.map((t: { status: string }) => t.status)).toEqual([
      "incomplete",
      ...DEMO_ORGANIZATIONS.slice(1).map(() => "not_started"),
    ]);
    expect(await services.storage.list("tenant-backups/")).toHaveLength(3);

    const statuses = [first.status];
    for (let i = 0; i < 100 && statuses.at(-1) === 202; i++) {
      const response = await daily(services);
      statuses.push(response.status);
      if (response.status === 202) expect(response.body.summary.remaining_tenants).toBeGreaterThan(0);
    }
    expect(statuses.at(-1)).toBe(200);
    expect(statuses.length).toBeGreaterThan(DEMO_ORGANIZATIONS.length);

    // Resumed runs are whole: one summary per tenant, one log row per tenant, exact row counts.
    for (const org of DEMO_ORGANIZATIONS) {
      const manifest = await onlyManifest(services.storage, org.id);
      const { inFiles, inManifest } = await rowCounts(services.storage, manifest);
      expect(inFiles).toEqual(inManifest);
      const count = await db.client.query(
        "select count(*)::int as n from customers where organization_id = $1",
        [org.id],
      );
      expect(manifest.tables.find((t) => t.name === "customers")?.row_count).toBe(count.rows[0].n);
    }
    const rows = await logs();
    expect(rows.filter((r) => r.status === "completed")).toHaveLength(DEMO_ORGANIZATIONS.length);
    expect(rows.filter((r) => r.status !== "completed")).toHaveLength(0);
  });

  it("closes runs of days before yesterday that were cut off and never resumed as failed", async () => {
    const services = await servicesWith();
    services.clock.set("2026-11-22T03:00:00Z");
    // Yesterday's runs are finished as yesterday's backups (tests/faults/midnight.test.ts); older ones expire.
    const twoDaysAgo = "2026-11-20";
    await services.db.startRun({
      backupId: "20200101T000000000Z-dead",
      tenantId: DEMO_ORGANIZATIONS[0]?.id as string,
      date: twoDaysAgo,
      type: "daily",
      logType: "daily_tenant",
    });
    const response = await daily(services);
    expect(response.status).toBe(200);
    const run = await services.db.getRun("20200101T000000000Z-dead");
    expect(run?.status).toBe("failed");
    const log = await db.client.query("select status, error_message from backup_logs where backup_id = $1", [
      "20200101T000000000Z-dead",
    ]);
    expect(log.rows[0]).toMatchObject({
      status: "failed",
      error_message: "interrupted and not resumed on its day",
    });
  });
});
