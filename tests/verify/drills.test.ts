/**
 * verify-backups, the verification drill: one call a day drills every tenant within the week, those
 * verified longest ago first; each drill re-reads the newest backup's files and rehearses its restore
 * (rolled back); the outcome is recorded and shown on list-backups as verified_at; a damaged backup fails
 * the drill and is alerted once (webhook and mail), then resolved once a drill passes; the time budget
 * stops a call starting another drill, and a drill cut while staging goes on in the next call.
 */
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { handleDailyTenantBackup } from "../../functions/daily-tenant-backup.ts";
import { handleListBackups } from "../../functions/list-backups.ts";
import { handleVerifyBackups } from "../../functions/verify-backups.ts";
import { inventoryOf } from "../../lib/backup/inventory.ts";
import { tenantPrefix } from "../../lib/backup/paths.ts";
import { readManifest } from "../../lib/backup/reader.ts";
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

const EXTRA = ["org-d", "org-e", "org-f", "org-g"];
const SECRET = "webhook-secret-5a0b3c9d1e";
const SMTP_PASSWORD = "smtp-password-2c7f4a9e";

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

const daily = async (s: TestServices, at: string) => {
  s.clock.set(at);
  const answer = await call(handleDailyTenantBackup, s, "daily-tenant-backup", { token: TEST_CRON_SECRET });
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
};
const verify = async (s: TestServices, at: string) => {
  s.clock.set(at);
  return call(handleVerifyBackups, s, "verify-backups", { token: TEST_CRON_SECRET });
};

/**
 * Overwrites the first stored object (file or chunk) the tenant's newest backup names with bytes that are
 * not that object's; answers its storage path.
 */
async function damageNewest(s: TestServices, tenantId: string): Promise<string> {
  const newest = inventoryOf(tenantId, await s.storage.list(tenantPrefix(tenantId))).backups[0];
  const manifest = await readManifest(s.storage, newest?.summaryPath as string);
  const path = manifest.tables.flatMap((t) => t.files)[0]?.path as string;
  await writeFile(join(s.backupDir, path), "not the backup's bytes");
  return path;
}

describe("verify-backups", () => {
  it("drills every tenant within a week at one call a day, two of seven per call, never-verified first", async () => {
    await db.owner.query(
      `insert into organizations values ${EXTRA.map((id) => `('${id}', 'Extra ${id}')`).join(", ")}`,
    );
    const s = await services();
    const everyone = [ORG_A, ORG_B, ORG_C, ...EXTRA];
    const drilledOn: Record<string, string[]> = Object.fromEntries(everyone.map((id) => [id, []]));
    for (let day = 1; day <= 6; day++) {
      const date = `2026-12-0${day}`;
      await daily(s, `${date}T02:00:00Z`);
      const answer = await verify(s, `${date}T04:30:00Z`);
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      expect(answer.body.summary).toMatchObject({ total_tenants: 7, per_call: 2, passed: 2, failed: 0 });
      for (const d of answer.body.drills) drilledOn[d.organization_id]?.push(date);
    }
    // Within six calls every tenant was drilled, and no tenant twice before all had their turn.
    for (const id of everyone) expect(drilledOn[id]?.length, id).toBeGreaterThanOrEqual(1);
    expect(Object.values(drilledOn).flat()).toHaveLength(12);
    expect(Math.max(...Object.values(drilledOn).map((d) => d.length))).toBe(2);

    // The drilled backup shows when it was verified; others of the same tenant do not.
    const list = await call(handleListBackups, s, "list-backups", {
      method: "GET",
      token: TEST_CRON_SECRET,
      query: { organization_id: ORG_A },
    });
    const verified = list.body.backups.filter((b: { verified_at: string | null }) => b.verified_at !== null);
    expect(verified.length).toBeGreaterThanOrEqual(1);
    const day = drilledOn[ORG_A]?.[0] as string;
    expect(verified.map((b: { backup_date: string }) => b.backup_date)).toContain(day);
    for (const b of verified) {
      // The drill's time on the test clock (each reading moves it on a millisecond).
      expect(new Date(b.verified_at).toISOString()).toMatch(new RegExp(`^${b.backup_date}T04:30:00\\.`));
      expect(b.verification).toMatchObject({ status: "passed", error: null });
    }
    // Each drill is a dry run in the history, by the cron, with its note; nothing was changed.
    const { rows } = await db.client.query(
      "select count(*)::int as n from backup_logs where backup_type = 'restore' and dry_run and note = 'verification drill' and created_by = '\"cron\"'",
    );
    expect(rows[0].n).toBe(12);
    expect(webhook.requests).toBe(0);
  });

  it("fails the drill of a damaged backup, alerts it once by webhook and mail, and resolves it after a good drill", async () => {
    const s = await services({ VERIFY_TENANTS_PER_CALL: "3" });
    await daily(s, "2026-12-01T02:00:00Z");
    const file = await damageNewest(s, ORG_A);

    const failed = await verify(s, "2026-12-01T04:30:00Z");
    expect(failed.status).toBe(500);
    const drillA = failed.body.drills.find((d: { organization_id: string }) => d.organization_id === ORG_A);
    expect(drillA).toMatchObject({
      status: "failed",
      error: expect.stringContaining(file.split("/").at(-1) as string),
    });
    expect(failed.body.summary).toMatchObject({ passed: 2, failed: 1 });
    expect(webhook.accepted).toHaveLength(1);
    expect(webhook.accepted[0]).toMatchObject({ event: "verify.failed", organization_id: ORG_A });
    expect(String(webhook.accepted[0]?.message)).toContain("run a manual backup");
    expect(mail.mails).toHaveLength(1);
    expect(mail.mails[0]?.text).toContain("verify.failed");

    // Failing again tells nobody again.
    expect((await verify(s, "2026-12-01T05:30:00Z")).status).toBe(500);
    expect(webhook.requests).toBe(1);
    expect(mail.mails).toHaveLength(1);

    // The damaged object is removed, so the next night's backup stores it again (a chunk the tenant's
    // data still has would otherwise be reused as it is): its drill passes and the alert is resolved, once.
    await rm(join(s.backupDir, file));
    await daily(s, "2026-12-02T02:00:00Z");
    expect((await verify(s, "2026-12-02T04:30:00Z")).status).toBe(200);
    expect(webhook.accepted.map((b) => b.event)).toEqual(["verify.failed", "verify.failed.resolved"]);
    expect(webhook.accepted[1]).toMatchObject({ organization_id: ORG_A });
    expect(mail.mails).toHaveLength(2);
    expect((await verify(s, "2026-12-02T05:30:00Z")).status).toBe(200);
    expect(webhook.requests).toBe(2);

    const { rows } = await db.client.query(
      "select status, count(*)::int as n from tenant_backup_verifications where organization_id = $1 group by 1 order by 1",
      [ORG_A],
    );
    expect(rows).toEqual([
      { status: "failed", n: 2 },
      { status: "passed", n: 2 },
    ]);
  });

  it("starts no drill past the time budget but the first, and goes on with a cut one in the next call", async () => {
    const roomy = await services();
    await daily(roomy, "2026-12-01T02:00:00Z");
    const s = await services({
      VERIFY_TENANTS_PER_CALL: "3",
      BACKUP_TIME_BUDGET_MS: "1",
      BACKUP_DIR: roomy.backupDir,
    });
    const first = await verify(s, "2026-12-01T04:30:00Z");
    expect(first.status, JSON.stringify(first.body)).toBe(202);
    expect(first.body.drills.map((d: { status: string }) => d.status)).toEqual([
      "incomplete",
      "not_started",
      "not_started",
    ]);
    const cut = first.body.drills[0].organization_id;
    let next = first;
    for (let i = 0; i < 10 && next.body.drills[0].status === "incomplete"; i++) {
      next = await verify(s, "2026-12-01T04:31:00Z");
      // The tenant cut is still not verified: it is taken first again.
      expect(next.body.drills[0].organization_id).toBe(cut);
    }
    expect(next.body.drills[0]).toMatchObject({ organization_id: cut, status: "passed" });
  });

  it("is the cron's alone", async () => {
    const s = await services();
    const refused = await call(handleVerifyBackups, s, "verify-backups", {});
    expect(refused.status).toBe(401);
  });
});
