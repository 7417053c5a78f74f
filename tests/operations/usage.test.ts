/**
 * backup-usage: what the backups take in storage, per tenant (every object under its folder, as stored)
 * and in total, against STORAGE_QUOTA_BYTES; an organization's admin sees only their own. backup-health
 * carries the same figures.
 */
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { setupServer } from "msw/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handleBackupHealth } from "../../functions/backup-health.ts";
import { handleBackupUsage } from "../../functions/backup-usage.ts";
import { AUTH_ENV, createAuthority } from "../auth/tokens.ts";
import { call } from "../support/call.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { createTestServices, TEST_CRON_SECRET, type TestServices } from "../support/services.ts";
import { backupAt, installSmallApp, ORG_A, ORG_B, USERS } from "./small-app.ts";

const server = setupServer();
let db: TestDatabase;
let services: TestServices;
let adminA: string;

beforeAll(async () => {
  const authority = await createAuthority();
  server.listen({ onUnhandledRequest: "error" });
  server.resetHandlers(authority.handler());
  db = await createTestDatabase("migrated");
  await installSmallApp(db.owner);
  services = await createTestServices(db.url, {
    ...AUTH_ENV,
    MANUAL_BACKUP_MIN_INTERVAL_SECONDS: "0",
    STORAGE_QUOTA_BYTES: "100000",
  });
  adminA = await authority.sign(USERS.adminA.id, { expiresIn: 7 * 86_400 });
  await backupAt(services, services.clock.set, ORG_A, "2026-12-01T09:00:00Z");
  await backupAt(services, services.clock.set, ORG_A, "2026-12-02T09:00:00Z");
  await backupAt(services, services.clock.set, ORG_B, "2026-12-02T09:30:00Z");
});

afterAll(async () => {
  server.close();
  await services?.cleanup();
  await db?.drop();
});

/** Bytes of every file under a tenant's folder, as the local backend stores them. */
async function bytesOnDisk(tenantId: string): Promise<number> {
  const root = join(services.backupDir, "tenant-backups", tenantId);
  let total = 0;
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return total;
}

const usage = (token: string, query: Record<string, string> = {}) =>
  call(handleBackupUsage, services, "backup-usage", { method: "GET", token, query });

describe("backup-usage", () => {
  it("sums every tenant's stored bytes and counts its backups, against the quota", async () => {
    const answer = await usage(TEST_CRON_SECRET);
    expect(answer.status).toBe(200);
    const a = await bytesOnDisk(ORG_A);
    const b = await bytesOnDisk(ORG_B);
    expect(a).toBeGreaterThan(0);
    expect(answer.body.usage).toEqual({
      total_bytes: a + b,
      quota_bytes: 100_000,
      used_ratio: Math.round(((a + b) / 100_000) * 10_000) / 10_000,
      warn_ratio: 0.8,
      tenants: expect.arrayContaining([
        { organization_id: ORG_A, bytes: a, backups: 2 },
        { organization_id: ORG_B, bytes: b, backups: 1 },
      ]),
    });
    expect(answer.body.usage.tenants).toHaveLength(2);
  });

  it("shows an organization's admin their own tenant only, and refuses them the total", async () => {
    const own = await usage(adminA, { organization_id: ORG_A });
    expect(own.status).toBe(200);
    expect(own.body.usage.tenants).toEqual([
      { organization_id: ORG_A, bytes: await bytesOnDisk(ORG_A), backups: 2 },
    ]);
    expect(own.body.usage.total_bytes).toBe(await bytesOnDisk(ORG_A));
    expect((await usage(adminA, { organization_id: ORG_B })).status).toBe(403);
    expect((await usage(adminA)).status).toBe(403);
  });

  it("is part of backup-health's report", async () => {
    const health = await call(handleBackupHealth, services, "backup-health", {
      method: "GET",
      token: TEST_CRON_SECRET,
    });
    const direct = await usage(TEST_CRON_SECRET);
    expect(health.body.usage).toEqual(direct.body.usage);
  });

  it("names a wrong STORAGE_QUOTA_BYTES or STORAGE_WARN_RATIO", async () => {
    await expect(createTestServices(db.url, { STORAGE_QUOTA_BYTES: "0" })).rejects.toThrow(
      /STORAGE_QUOTA_BYTES/,
    );
    await expect(createTestServices(db.url, { STORAGE_WARN_RATIO: "1.5" })).rejects.toThrow(
      /STORAGE_WARN_RATIO/,
    );
  });
});
