/**
 * Alerts reach real receivers started here on 127.0.0.1: a webhook that checks the HMAC signature and an
 * SMTP server. A failing tenant is told of once (webhook and mail), then "resolved" after its next
 * success; a receiver that answers 500 is retried, recorded as failed, and changes nothing of the answer.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { handleBackupTenantData } from "../../functions/backup-tenant-data.ts";
import { handleDailyTenantBackup } from "../../functions/daily-tenant-backup.ts";
import { handleRestoreTenantData } from "../../functions/restore-tenant-data.ts";
import { StorageError } from "../../lib/storage/port.ts";
import { DEMO_ORGANIZATIONS } from "../../scripts/demo/install.ts";
import {
  type AlertReceivers,
  type MailReceiver,
  startAlertReceivers,
  type WebhookReceiver,
} from "../support/alert-receivers.ts";
import { call } from "../support/call.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { createTestServices, TEST_CRON_SECRET, type TestServices } from "../support/services.ts";

const SECRET = "webhook-secret-4f1c9a7e2b";
const SMTP_PASSWORD = "smtp-password-8d2e6b1f";
const victim = DEMO_ORGANIZATIONS[1]?.id as string;

let db: TestDatabase;
let webhook: WebhookReceiver;
let mail: MailReceiver;
let receivers: AlertReceivers;
const opened: TestServices[] = [];

beforeEach(async () => {
  db = await createTestDatabase("demo");
  receivers = await startAlertReceivers(SECRET, SMTP_PASSWORD, "ops@example.com,oncall@example.com");
  ({ webhook, mail } = receivers);
});

afterEach(async () => {
  for (const s of opened.splice(0)) await s.cleanup();
  await receivers.close();
  await db.drop();
});

/** Services with both channels configured, whose storage refuses the victim's files while `broken.on`. */
async function servicesWithAlerts(broken: { on: boolean }, env: Record<string, string> = {}) {
  const base = await createTestServices(db.url, {
    ...receivers.env,
    ...env,
  });
  opened.push(base);
  const inner = base.storage;
  return {
    ...base,
    storage: {
      ...inner,
      async put(...args: Parameters<typeof inner.put>) {
        if (broken.on && args[0].includes(`/${victim}/`)) {
          throw new StorageError("unauthorized", "bucket refused the write");
        }
        return inner.put(...args);
      },
    },
  } as TestServices;
}

const daily = (services: TestServices) =>
  call(handleDailyTenantBackup, services, "daily-tenant-backup", { token: TEST_CRON_SECRET });
const manual = (services: TestServices) =>
  call(handleBackupTenantData, services, "backup-tenant-data", {
    token: TEST_CRON_SECRET,
    body: { organization_id: victim },
  });

async function deliveries() {
  return (
    await db.client.query(
      "select organization_id, event, channel, status, attempts, last_error from tenant_backup_alert_deliveries order by id",
    )
  ).rows;
}

describe("alerts", () => {
  it("tells of a failed backup once by webhook and mail, and of its resolution after the next success", async () => {
    const broken = { on: true };
    const services = await servicesWithAlerts(broken);
    services.clock.set("2026-12-01T10:00:00.000Z");

    expect((await daily(services)).status).toBe(500);
    expect(webhook.accepted).toHaveLength(1);
    expect(webhook.accepted[0]).toMatchObject({
      event: "backup.failed",
      organization_id: victim,
      organization_name: DEMO_ORGANIZATIONS[1]?.name,
      // From the test clock (services.now()), which the backup work moved on a little.
      at: expect.stringMatching(/^2026-12-01T10:00:/),
      details: { type: "daily", error: expect.stringContaining("bucket refused the write") },
    });
    expect(String(webhook.accepted[0]?.message)).toContain("run a manual backup");
    expect(mail.mails).toHaveLength(1);
    expect(mail.mails[0]).toMatchObject({
      from: "backups@example.com",
      to: ["ops@example.com", "oncall@example.com"],
      user: "alerts",
    });
    expect(mail.mails[0]?.text).toContain(`backup.failed: ${DEMO_ORGANIZATIONS[1]?.name}`);

    // Failing again, by the next cron call and by a manual backup: nothing more is sent.
    expect((await daily(services)).status).toBe(500);
    expect((await manual(services)).status).toBeGreaterThanOrEqual(500);
    expect(webhook.requests).toBe(1);
    expect(mail.mails).toHaveLength(1);

    broken.on = false;
    expect((await manual(services)).status).toBe(200);
    expect(webhook.accepted.map((b) => b.event)).toEqual(["backup.failed", "backup.resolved"]);
    expect(webhook.accepted[1]).toMatchObject({ organization_id: victim, details: { type: "manual" } });
    expect(mail.mails).toHaveLength(2);
    expect(mail.mails[1]?.text).toContain("backup.resolved");
    // Another success is not news.
    services.clock.set("2026-12-02T10:00:00.000Z");
    expect((await daily(services)).status).toBe(200);
    expect(webhook.requests).toBe(2);
    expect(mail.mails).toHaveLength(2);

    // Both channels are delivered to side by side: their rows come in either order.
    const rows = await deliveries();
    expect(rows).toHaveLength(4);
    expect(rows).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          event: "backup.failed",
          channel: expect.stringMatching(/^webhook 127\.0\.0\.1:/),
          status: "sent",
          attempts: 1,
        }),
        expect.objectContaining({ event: "backup.failed", channel: "email", status: "sent", attempts: 1 }),
        expect.objectContaining({
          event: "backup.resolved",
          channel: expect.stringMatching(/^webhook /),
          status: "sent",
        }),
        expect.objectContaining({ event: "backup.resolved", channel: "email", status: "sent" }),
      ]),
    );
  });

  it("retries a receiver that answers 500, records it failed, and answers the backup as without alerts", async () => {
    const plain = await createTestServices(db.url);
    opened.push(plain);
    const withoutAlerts = await manual({
      ...plain,
      storage: {
        ...plain.storage,
        put: async () => {
          throw new StorageError("unauthorized", "bucket refused the write");
        },
      },
    } as TestServices);

    webhook.answer = 500;
    const services = await servicesWithAlerts({ on: true }, { ALERT_EMAIL_TO: "ops@example.com" });
    const answer = await manual(services);
    expect(answer.status).toBe(withoutAlerts.status);
    expect(answer.body).toEqual(withoutAlerts.body);

    expect(webhook.requests).toBe(3);
    const rows = await deliveries();
    expect(rows.find((r) => r.channel.startsWith("webhook"))).toMatchObject({
      event: "backup.failed",
      status: "failed",
      attempts: 3,
      last_error: expect.stringContaining("answered 500"),
    });
    expect(rows.find((r) => r.channel === "email")).toMatchObject({ status: "sent", attempts: 1 });
    const logs = services.logLines.join("\n");
    expect(logs).toContain("alert not delivered");
    expect(logs).not.toContain(SECRET);
    expect(logs).not.toContain(SMTP_PASSWORD);
  });

  it("is refused by the receiver when signed with another secret (the signature is what it checks)", async () => {
    const services = await servicesWithAlerts(
      { on: true },
      { ALERT_WEBHOOK_SECRET: "another-secret-0123456789" },
    );
    await manual(services);
    expect(webhook.requests).toBe(3);
    expect(webhook.accepted).toEqual([]);
    expect((await deliveries()).find((r) => r.channel.startsWith("webhook"))).toMatchObject({
      status: "failed",
      last_error: expect.stringContaining("answered 401"),
    });
  });

  it("tells of a completed restore (who, what, undo point) and of a failed one, but not of a dry run", async () => {
    const services = await servicesWithAlerts({ on: false });
    services.clock.set("2026-12-01T10:00:00.000Z");
    const backup = await manual(services);
    expect(backup.status).toBe(200);
    const restore = (body: Record<string, unknown>, on: TestServices = services) =>
      call(handleRestoreTenantData, on, "restore-tenant-data", {
        token: TEST_CRON_SECRET,
        body: { organization_id: victim, backup_date: "2026-12-01", ...body },
      });

    expect((await restore({ dry_run: true })).status).toBe(200);
    expect(webhook.requests).toBe(0);

    const done = await restore({ dry_run: false, backup_id: backup.body.backup.backup_id });
    expect(done.status).toBe(200);
    expect(webhook.accepted).toHaveLength(1);
    expect(webhook.accepted[0]).toMatchObject({
      event: "restore.completed",
      organization_id: victim,
      details: {
        backup_id: backup.body.backup.backup_id,
        requested_by: "cron",
        undo_backup_id: done.body.summary.undo_backup_id,
      },
    });
    expect(done.body.summary.undo_backup_id).toEqual(expect.any(String));
    expect(String(webhook.accepted[0]?.message)).toContain(
      `restore backup ${done.body.summary.undo_backup_id} to undo it`,
    );

    // Storage that cannot be read: the restore fails before it changes anything, and says so.
    const unreadable = {
      ...services,
      storage: {
        ...services.storage,
        get: async () => {
          throw new StorageError("unavailable", "storage is down");
        },
        getStream: async () => {
          throw new StorageError("unavailable", "storage is down");
        },
      },
    } as TestServices;
    const failed = await restore({ dry_run: false }, unreadable);
    expect(failed.status).toBeGreaterThanOrEqual(500);
    expect(webhook.accepted.map((b) => b.event)).toEqual(["restore.completed", "restore.failed"]);
    expect(webhook.accepted[1]).toMatchObject({
      organization_id: victim,
      details: {
        requested_by: "cron",
        undo_backup_id: null,
        error: expect.stringContaining("storage is down"),
      },
    });
    expect(mail.mails.map((m) => /restore\.(completed|failed)/.exec(m.text)?.[0])).toEqual([
      "restore.completed",
      "restore.failed",
    ]);
  });
});
