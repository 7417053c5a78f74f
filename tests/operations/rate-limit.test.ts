/**
 * Rate limits per tenant on expensive calls: a second manual backup within the interval is 429 with
 * Retry-After; the cron secret is exempt; continuing an unfinished backup and a call refused as busy do
 * not count; the limit holds across concurrent calls (it lives in the database).
 */
import { setupServer } from "msw/node";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { handleBackupTenantData } from "../../functions/backup-tenant-data.ts";
import { handleRestoreTenantData } from "../../functions/restore-tenant-data.ts";
import { enforceRateLimit } from "../../lib/rate-limit.ts";
import { AUTH_ENV, createAuthority } from "../auth/tokens.ts";
import { call } from "../support/call.ts";
import { storageTakingTime } from "../support/clock.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { createTestServices, TEST_CRON_SECRET, type TestServices } from "../support/services.ts";
import { installSmallApp, ORG_A, ORG_B, USERS } from "./small-app.ts";

const server = setupServer();
let db: TestDatabase;
let services: TestServices;
let adminA: string;
let superAdmin: string;
let ownerB: string;
const opened: TestServices[] = [];

beforeAll(async () => {
  const authority = await createAuthority();
  server.listen({ onUnhandledRequest: "error" });
  server.resetHandlers(authority.handler());
  db = await createTestDatabase("migrated");
  await installSmallApp(db.owner);
  services = await createTestServices(db.url, { ...AUTH_ENV });
  opened.push(services);
  adminA = await authority.sign(USERS.adminA.id);
  superAdmin = await authority.sign(USERS.superAdmin.id);
  ownerB = await authority.sign(USERS.ownerB.id);
});

beforeEach(async () => {
  await db.client.query("delete from tenant_backup_rate_limits; delete from tenant_backup_locks");
});

afterAll(async () => {
  server.close();
  for (const s of opened) await s.cleanup();
  await db?.drop();
});

const backup = (token: string, organizationId = ORG_A, s: TestServices = services) =>
  call(handleBackupTenantData, s, "backup-tenant-data", { token, body: { organization_id: organizationId } });

describe("rate limits", () => {
  it("answers a second manual backup within MANUAL_BACKUP_MIN_INTERVAL_SECONDS with 429 and Retry-After", async () => {
    expect((await backup(adminA)).status).toBe(200);
    const again = await backup(superAdmin);
    expect(again.status).toBe(429);
    expect(again.body.error.code).toBe("rate_limited");
    const retryAfter = Number(again.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThan(250);
    expect(retryAfter).toBeLessThanOrEqual(300);
    expect(again.body.error.details.retry_after).toBe(retryAfter);
    // Per tenant: another organization is not held up.
    expect((await backup(superAdmin, ORG_B)).status).toBe(200);
    // Once the interval has passed, the next one goes through.
    await db.client.query("update tenant_backup_rate_limits set last_at = now() - interval '301 seconds'");
    expect((await backup(adminA)).status).toBe(200);
  });

  it("lets the cron secret through (it is the operator's own automation)", async () => {
    expect((await backup(adminA)).status).toBe(200);
    expect((await backup(TEST_CRON_SECRET)).status).toBe(200);
    expect((await backup(TEST_CRON_SECRET)).status).toBe(200);
  });

  it("does not count calls that continue an unfinished backup", async () => {
    // Storing a part takes longer than the whole budget: every call stores one part.
    const opening = await createTestServices(db.url, { ...AUTH_ENV });
    opened.push(opening);
    const slow = { ...opening, storage: storageTakingTime(opening.storage, opening.clock, 60_000) };
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) {
      const response = await backup(ownerB, ORG_B, slow);
      statuses.push(response.status);
      if (response.status !== 202) break;
    }
    expect(statuses[0]).toBe(202);
    expect(statuses.at(-1)).toBe(200);
    // The backup is done: a new one is a new call, and that one is limited.
    expect((await backup(ownerB, ORG_B, slow)).status).toBe(429);
  });

  it("does not count calls that continue an unfinished restore: only the call that applies it", async () => {
    const made = await backup(TEST_CRON_SECRET, ORG_B);
    expect(made.status).toBe(200);
    const slow = await createTestServices(db.url, {
      ...AUTH_ENV,
      BACKUP_TIME_BUDGET_MS: "1",
      BACKUP_DIR: services.backupDir,
    });
    opened.push(slow);
    const restore = () =>
      call(handleRestoreTenantData, slow, "restore-tenant-data", {
        token: ownerB,
        body: { organization_id: ORG_B, backup_date: made.body.backup.backup_date, dry_run: false },
      });
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) {
      const response = await restore();
      statuses.push(response.status);
      if (response.status !== 202) break;
    }
    expect(statuses.length).toBeGreaterThan(2);
    expect(statuses.at(-1)).toBe(200);
    // The restore is done: another one is a new restore, and that one is limited.
    expect((await restore()).status).toBe(429);
  });

  it("limits dry runs per tenant: a second one within DRY_RUN_MIN_INTERVAL_SECONDS is 429 with Retry-After", async () => {
    const made = await backup(TEST_CRON_SECRET, ORG_B);
    expect(made.status).toBe(200);
    const dryRun = (token: string) =>
      call(handleRestoreTenantData, services, "restore-tenant-data", {
        token,
        body: { organization_id: ORG_B, backup_date: made.body.backup.backup_date, dry_run: true },
      });
    expect((await dryRun(ownerB)).status).toBe(200);
    const again = await dryRun(ownerB);
    expect(again.status).toBe(429);
    expect(again.body.error.details.kind).toBe("dry_run");
    expect(Number(again.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(Number(again.headers.get("retry-after"))).toBeLessThanOrEqual(30);
    // A dry run does not spend the real restore's slot, and the cron secret is not limited.
    expect((await dryRun(TEST_CRON_SECRET)).status).toBe(200);
    const real = await call(handleRestoreTenantData, services, "restore-tenant-data", {
      token: ownerB,
      body: { organization_id: ORG_B, backup_date: made.body.backup.backup_date, dry_run: false },
    });
    expect(real.status).toBe(200);
  });

  it("gives the slot back when the tenant was busy and nothing was done", async () => {
    await services.db.acquireLock(ORG_A, "restore:2026-11-20", "restorer", 60);
    const busy = await backup(adminA);
    expect(busy.status).toBe(409);
    await services.db.releaseLock(ORG_A, "restorer");
    expect((await backup(adminA)).status).toBe(200);
  });

  it("exports enforceRateLimit for restores: RESTORE_MIN_INTERVAL_SECONDS, one winner under concurrency", async () => {
    const user = {
      kind: "user" as const,
      userId: USERS.adminA.id,
      email: null,
      superAdmin: false,
      adminOf: [ORG_A],
    };
    const outcomes = await Promise.allSettled(
      Array.from({ length: 6 }, () => enforceRateLimit(services, ORG_A, "restore", user)),
    );
    expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(1);
    const refused = outcomes.find((o) => o.status === "rejected") as PromiseRejectedResult;
    expect(refused.reason.code).toBe("rate_limited");
    expect(refused.reason.status).toBe(429);
    expect(refused.reason.details.retry_after).toBeLessThanOrEqual(60);
    const slots = async () =>
      (
        await db.client.query(
          "select organization_id, kind, last_at from tenant_backup_rate_limits order by organization_id, kind",
        )
      ).rows;
    // Restores and manual backups are limited separately: the manual backup takes a slot of its own.
    await enforceRateLimit(services, ORG_A, "manual_backup", user);
    const taken = await slots();
    expect(taken.map((r) => [r.organization_id, r.kind])).toEqual([
      [ORG_A, "manual_backup"],
      [ORG_A, "restore"],
    ]);
    // The cron secret is exempt: it gets through and takes no slot.
    await enforceRateLimit(services, ORG_A, "restore", { kind: "cron" });
    expect(await slots()).toEqual(taken);
    // A released slot can be taken again at once, and is then held.
    const slot = await enforceRateLimit(services, ORG_B, "restore", user);
    await slot.release();
    await enforceRateLimit(services, ORG_B, "restore", user);
    await expect(enforceRateLimit(services, ORG_B, "restore", user)).rejects.toMatchObject({
      code: "rate_limited",
    });
  });

  it("is off when the interval is 0", async () => {
    const open = await createTestServices(db.url, { ...AUTH_ENV, RESTORE_MIN_INTERVAL_SECONDS: "0" });
    opened.push(open);
    for (let i = 0; i < 3; i++) await enforceRateLimit(open, ORG_A, "restore", undefined);
    const rows = await db.client.query("select count(*)::int as n from tenant_backup_rate_limits");
    expect(rows.rows[0].n).toBe(0);
  });
});
