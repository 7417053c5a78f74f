/**
 * The watch on the backups, against real receivers (a webhook that checks the signature, an SMTP server):
 * run.incomplete, tenant.stale, backup.size_changed and storage.quota are each told once while their
 * condition holds, by webhook and mail, and "resolved" once after it clears.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { handleBackupHealth } from "../../functions/backup-health.ts";
import { handleBackupTenantData } from "../../functions/backup-tenant-data.ts";
import { handleDailyTenantBackup } from "../../functions/daily-tenant-backup.ts";
import { installSmallApp, ORG_A, ORG_B, ORG_C } from "../operations/small-app.ts";
import {
  type AlertReceivers,
  type MailReceiver,
  startAlertReceivers,
  type WebhookReceiver,
} from "../support/alert-receivers.ts";
import { call } from "../support/call.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { createTestServices, TEST_CRON_SECRET, type TestServices } from "../support/services.ts";

const SECRET = "webhook-secret-7e1d0c4b8a";
const SMTP_PASSWORD = "smtp-password-3f9a6c2d";

let db: TestDatabase;
let webhook: WebhookReceiver;
let mail: MailReceiver;
let receivers: AlertReceivers;
const opened: TestServices[] = [];

beforeEach(async () => {
  db = await createTestDatabase("migrated");
  await installSmallApp(db.owner);
  receivers = await startAlertReceivers(SECRET, SMTP_PASSWORD);
  ({ webhook, mail } = receivers);
});

afterEach(async () => {
  for (const s of opened.splice(0)) await s.cleanup();
  await receivers.close();
  await db.drop();
});

async function services(env: Record<string, string> = {}) {
  const s = await createTestServices(db.url, {
    ...receivers.env,
    ...env,
  });
  opened.push(s);
  return s;
}

async function cron(s: TestServices, at: string) {
  s.clock.set(at);
  return call(handleDailyTenantBackup, s, "daily-tenant-backup", { token: TEST_CRON_SECRET });
}

async function health(s: TestServices, at: string, query: Record<string, string> = {}) {
  s.clock.set(at);
  return call(handleBackupHealth, s, "backup-health", { method: "GET", token: TEST_CRON_SECRET, query });
}

/** What the webhook accepted, as "event organization_id", and the mails' subjects' events, in order. */
function told() {
  return {
    webhook: webhook.accepted.map((b) => `${b.event} ${b.organization_id}`),
    mails: mail.mails.map((m) => /\] ([a-z_.]+):/.exec(m.text)?.[1] ?? m.text.slice(0, 40)),
  };
}

describe("the watch on the backups", () => {
  it("run.incomplete: a tenant still not backed up past its slot's deadline is told once, then resolved", async () => {
    const s = await services({ ALERT_RUN_DEADLINE_HOURS: "3" });
    // Another operation holds ORG_A: the cron call cannot back it up.
    await s.db.acquireLock(ORG_A, "restore", "someone-else", 3600);
    expect((await cron(s, "2026-12-01T02:05:00Z")).status).toBe(202);
    // Before the deadline (02:00 + 3 h): nothing yet.
    expect((await cron(s, "2026-12-01T04:05:00Z")).status).toBe(202);
    expect(webhook.requests).toBe(0);

    expect((await cron(s, "2026-12-01T05:05:00Z")).status).toBe(202);
    expect(told().webhook).toEqual([`run.incomplete ${ORG_A}`]);
    expect(webhook.accepted[0]).toMatchObject({
      details: {
        slot_started_at: "2026-12-01T02:00:00.000Z",
        deadline: "2026-12-01T05:00:00.000Z",
        status: "busy",
      },
    });
    expect(String(webhook.accepted[0]?.message)).toContain("Check that the cron service");
    expect(told().mails).toEqual(["run.incomplete"]);
    expect((await cron(s, "2026-12-01T06:05:00Z")).status).toBe(202);
    expect(webhook.requests).toBe(1);

    await s.db.releaseLock(ORG_A, "someone-else");
    expect((await cron(s, "2026-12-01T07:05:00Z")).status).toBe(200);
    expect(told().webhook).toEqual([`run.incomplete ${ORG_A}`, `run.incomplete.resolved ${ORG_A}`]);
    expect(told().mails).toEqual(["run.incomplete", "run.incomplete.resolved"]);
    expect((await cron(s, "2026-12-01T08:05:00Z")).status).toBe(200);
    expect(webhook.requests).toBe(2);
  });

  it("tenant.stale: backup-health tells of each tenant past its schedule once, and when it is fresh again", async () => {
    // Health compares services.now() with when the database recorded each backup complete (its own
    // clock): the test clock stays at the real time here, and the backups are made old in the record.
    const s = await services();
    const now = () => new Date().toISOString();
    expect((await cron(s, now())).status).toBe(200);
    expect((await health(s, now())).status).toBe(200);
    expect(webhook.requests).toBe(0);

    // The backups are a day and more old: every daily tenant is past HEALTH_MAX_AGE_HOURS (26).
    await db.client.query("update tenant_backup_runs set completed_at = completed_at - interval '30 hours'");
    expect((await health(s, now())).status).toBe(503);
    expect(told().webhook.sort()).toEqual([
      `tenant.stale ${ORG_A}`,
      `tenant.stale ${ORG_B}`,
      `tenant.stale ${ORG_C}`,
    ]);
    const stale = webhook.accepted.find((b) => b.organization_id === ORG_A);
    expect(stale).toMatchObject({ details: { status: "stale", max_age_hours: 26 } });
    expect(String(stale?.message)).toContain("run a manual backup");
    expect(told().mails).toEqual(["tenant.stale", "tenant.stale", "tenant.stale"]);
    expect((await health(s, now())).status).toBe(503);
    expect((await health(s, now(), { organization_id: ORG_A })).status).toBe(503);
    expect(webhook.requests).toBe(3);

    // A fresh backup of each: the next health report resolves each, once.
    for (const org of [ORG_A, ORG_B, ORG_C]) {
      const made = await call(handleBackupTenantData, s, "backup-tenant-data", {
        token: TEST_CRON_SECRET,
        body: { organization_id: org },
      });
      expect(made.status).toBe(200);
    }
    expect((await health(s, now())).status).toBe(200);
    expect(told().webhook.slice(3).sort()).toEqual([
      `tenant.stale.resolved ${ORG_A}`,
      `tenant.stale.resolved ${ORG_B}`,
      `tenant.stale.resolved ${ORG_C}`,
    ]);
    expect(mail.mails).toHaveLength(6);
    expect((await health(s, now())).status).toBe(200);
    expect(webhook.requests).toBe(6);
  });

  it("backup.size_changed: a backup far from the median of the recent ones is told once, and when sizes settle", async () => {
    const s = await services({ ALERT_SIZE_CHANGE_RATIO: "0.5" });
    for (const day of ["01", "02", "03"])
      expect((await cron(s, `2026-12-${day}T02:05:00Z`)).status).toBe(200);
    expect(webhook.requests).toBe(0);

    // ORG_B grows a hundredfold overnight.
    await db.owner.query(
      `insert into notes (organization_id, body) select '${ORG_B}', md5(g::text) || md5((g * 7)::text) from generate_series(1, 2000) g`,
    );
    expect((await cron(s, "2026-12-04T02:05:00Z")).status).toBe(200);
    expect(told().webhook).toEqual([`backup.size_changed ${ORG_B}`]);
    const alert = webhook.accepted[0] as { details: { change: number }; message: string };
    expect(alert).toMatchObject({ details: { threshold: 0.5, compared_with: 3 } });
    expect(alert.details.change).toBeGreaterThan(10);
    expect(alert.message).toContain("Check that the tenant's data is as it should be");
    expect(told().mails).toEqual(["backup.size_changed"]);

    // Still large the next night (the median is still the small ones): nothing more.
    expect((await cron(s, "2026-12-05T02:05:00Z")).status).toBe(200);
    expect(webhook.requests).toBe(1);

    // Back to its usual size: resolved, once.
    await db.owner.query(`delete from notes where organization_id = '${ORG_B}' and id > 60`);
    expect((await cron(s, "2026-12-06T02:05:00Z")).status).toBe(200);
    expect(told().webhook).toEqual([`backup.size_changed ${ORG_B}`, `backup.size_changed.resolved ${ORG_B}`]);
    expect(told().mails).toEqual(["backup.size_changed", "backup.size_changed.resolved"]);
    expect((await cron(s, "2026-12-07T02:05:00Z")).status).toBe(200);
    expect(webhook.requests).toBe(2);
  });

  it("storage.quota: storage past STORAGE_WARN_RATIO is told once for all tenants, and resolved when below", async () => {
    const small = await services({ STORAGE_QUOTA_BYTES: "1000", STORAGE_WARN_RATIO: "0.8" });
    expect((await cron(small, "2026-12-01T02:05:00Z")).status).toBe(200);
    expect(told().webhook).toEqual(["storage.quota *"]);
    expect(webhook.accepted[0]).toMatchObject({
      organization_name: null,
      details: { quota_bytes: 1000, warn_ratio: 0.8 },
    });
    expect(String(webhook.accepted[0]?.message)).toContain("RETENTION_MAX_BACKUPS");
    expect(told().mails).toEqual(["storage.quota"]);
    // The next backups and health polls find it still full: nothing more.
    expect((await cron(small, "2026-12-02T02:05:00Z")).status).toBe(200);
    expect((await health(small, "2026-12-02T03:00:00Z")).status).toBe(200);
    expect(webhook.requests).toBe(1);

    // A larger quota (same database, same storage): the next health report of every tenant resolves it.
    const roomy = await services({ STORAGE_QUOTA_BYTES: String(1024 ** 3), BACKUP_DIR: small.backupDir });
    expect((await health(roomy, "2026-12-02T04:00:00Z")).status).toBe(200);
    expect(told().webhook).toEqual(["storage.quota *", "storage.quota.resolved *"]);
    expect(told().mails).toEqual(["storage.quota", "storage.quota.resolved"]);
    expect((await health(roomy, "2026-12-02T05:00:00Z")).status).toBe(200);
    expect(webhook.requests).toBe(2);
  });
});
