/**
 * The retention pass against a real database and storage: what it deletes and keeps, that it logs every
 * deletion, that a dry run deletes nothing, that a tenant under a running restore is left alone, how it
 * cleans up after runs that never completed, and that the daily run applies it only once it is complete.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { handleApplyRetention } from "../../functions/apply-retention.ts";
import { handleDailyTenantBackup } from "../../functions/daily-tenant-backup.ts";
import { runManualBackup } from "../../lib/backup/manual.ts";
import { restoreTenant } from "../../lib/restore/restore-tenant.ts";
import { applyRetention } from "../../lib/retention/apply.ts";
import type { Services } from "../../lib/services.ts";
import { StorageError } from "../../lib/storage/port.ts";
import { call } from "../support/call.ts";
import { deadlineIn, storageTakingTime, type TestClock, testClock } from "../support/clock.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { createTestServices, TEST_CRON_SECRET, type TestServices } from "../support/services.ts";
import { backupAt, installSmallApp, ORG_A, ORG_B } from "./small-app.ts";

let db: TestDatabase;
let services: TestServices;
let time: TestClock;
const opened: TestServices[] = [];

beforeAll(async () => {
  db = await createTestDatabase("migrated");
  await installSmallApp(db.owner);
  return async () => db.drop();
});

beforeEach(async () => {
  time = testClock();
  services = await createTestServices(db.url, { BACKUP_LAYOUT: "files" }, { clock: time });
  opened.push(services);
  await db.client.query(
    "delete from backup_logs; delete from tenant_backup_runs; delete from tenant_backup_locks",
  );
});

afterEach(async () => {
  for (const s of opened.splice(0)) await s.cleanup();
});

const take = (tenantId: string, at: string, s: Services = services) => backupAt(s, time.set, tenantId, at);
const summaries = async (tenantId: string) =>
  (await services.storage.list(`tenant-backups/${tenantId}/`))
    .filter((o) => o.path.includes("/summary-"))
    .map((o) => o.path.split("/")[2])
    .sort();
const retain = (dryRun = false, tenantId?: string) =>
  applyRetention(services, { dryRun, tenantId, deadline: deadlineIn(time), actor: "test" });
const retentionLogs = async () =>
  (
    await db.client.query(
      "select organization_id, backup_id, backup_date::text, status, file_size, details from backup_logs where backup_type = 'retention' order by id",
    )
  ).rows;

describe("retention", () => {
  it("deletes what RETENTION_DAYS no longer keeps, keeps each tenant's newest, and logs every deletion", async () => {
    const old1 = await take(ORG_A, "2026-09-01T10:00:00Z");
    const old2 = await take(ORG_A, "2026-10-01T10:00:00Z");
    await take(ORG_A, "2026-11-01T10:00:00Z");
    await take(ORG_A, "2026-11-20T10:00:00Z");
    await take(ORG_B, "2026-08-01T10:00:00Z"); // B's only backup: old, but its newest
    time.set("2026-11-22T03:00:00Z");

    const result = await retain();
    expect(result).toMatchObject({
      complete: true,
      deleted_backups: 2,
      deleted_orphans: 0,
      cutoff: "2026-10-23",
    });
    expect(await summaries(ORG_A)).toEqual(["2026-11-01", "2026-11-20"]);
    expect(await summaries(ORG_B)).toEqual(["2026-08-01"]);
    // The deleted backups' files are gone too, not just their summaries.
    const left = await services.storage.list(`tenant-backups/${ORG_A}/`);
    expect(left.some((o) => o.path.includes(old1.backupId) || o.path.includes(old2.backupId))).toBe(false);

    const logs = await retentionLogs();
    expect(logs.map((l) => l.backup_id).sort()).toEqual([old1.backupId, old2.backupId].sort());
    for (const log of logs) {
      expect(log).toMatchObject({ organization_id: ORG_A, status: "completed" });
      expect(Number(log.file_size)).toBeGreaterThan(0);
      expect(log.details.reason).toContain("older than 30 days");
      expect(log.details.actor).toBe("test");
    }
    // Nothing more to do the second time.
    expect((await retain()).deleted_backups).toBe(0);
  });

  it("lists in a dry run exactly what it then deletes, and deletes nothing in the dry run", async () => {
    await take(ORG_A, "2026-09-01T10:00:00Z");
    await take(ORG_A, "2026-11-20T10:00:00Z");
    time.set("2026-11-22T03:00:00Z");
    const dry = await retain(true);
    expect(dry.dry_run).toBe(true);
    const tenant = dry.tenants.find((t) => t.organization_id === ORG_A);
    expect(tenant?.expired).toEqual([
      expect.objectContaining({ backup_date: "2026-09-01", deleted: false, reason: expect.any(String) }),
    ]);
    expect(await summaries(ORG_A)).toEqual(["2026-09-01", "2026-11-20"]);
    expect(await retentionLogs()).toEqual([]);

    const real = await retain(false);
    expect(real.tenants.find((t) => t.organization_id === ORG_A)?.expired).toEqual([
      expect.objectContaining({ backup_date: "2026-09-01", deleted: true }),
    ]);
  });

  it("applies RETENTION_KEEP_LAST and RETENTION_KEEP_WEEKLY_WEEKS", async () => {
    const keeping = await createTestServices(
      db.url,
      { RETENTION_DAYS: "7", RETENTION_KEEP_LAST: "2", RETENTION_KEEP_WEEKLY_WEEKS: "4" },
      { clock: time },
    );
    opened.push(keeping);
    for (const at of ["2026-10-01", "2026-10-27", "2026-10-28", "2026-11-03", "2026-11-12", "2026-11-13"]) {
      await take(ORG_A, `${at}T10:00:00Z`, keeping);
    }
    time.set("2026-11-22T03:00:00Z");
    const result = await applyRetention(keeping, {
      dryRun: false,
      deadline: deadlineIn(time),
      actor: "test",
    });
    const expired = result.tenants.flatMap((t) => t.expired.map((e) => e.backup_date)).sort();
    // Kept: 13 Nov and 12 Nov (last 2), 3 Nov (week of 2 Nov), 28 Oct (week of 26 Oct, the 4th week).
    expect(expired).toEqual(["2026-10-01", "2026-10-27"]);
  });

  it("caps the count with RETENTION_MAX_BACKUPS, sparing a restore's undo point for its first day", async () => {
    const capped = await createTestServices(db.url, { RETENTION_MAX_BACKUPS: "1" }, { clock: time });
    opened.push(capped);
    const olds = [];
    for (const day of ["2026-11-18", "2026-11-19", "2026-11-20"]) {
      olds.push(await take(ORG_A, `${day}T10:00:00Z`, capped));
    }
    time.set("2026-11-22T01:00:00Z");
    const restored = await restoreTenant(capped, {
      tenantId: ORG_A,
      backupDate: "2026-11-20",
      dryRun: false,
      deadline: deadlineIn(time),
    });
    if (restored.status !== "done") throw new Error(`the restore ended ${restored.status}`);
    const undo = restored.undoBackupId;
    expect(undo).toMatch(/^20261122T01/);
    const newest = await take(ORG_A, "2026-11-22T02:00:00Z", capped);
    const capRetain = () =>
      applyRetention(capped, { dryRun: false, tenantId: ORG_A, deadline: deadlineIn(time), actor: "test" });

    time.set("2026-11-22T03:00:00Z");
    const first = await capRetain();
    // All within RETENTION_DAYS (30): only the cap removes them. The undo point is two hours old.
    expect(first.tenants[0]?.expired.map((e) => e.backup_id).sort()).toEqual(
      olds.map((b) => b.backupId).sort(),
    );
    expect(first.tenants[0]?.expired[0]?.reason).toBe("beyond the 1 newest (RETENTION_MAX_BACKUPS)");
    const kept = await capped.storage.list(`tenant-backups/${ORG_A}/`);
    expect(kept.filter((o) => o.path.includes("/summary-")).map((o) => o.path.split("/")[2])).toEqual([
      "2026-11-22",
      "2026-11-22",
    ]);

    // A day and a bit later the undo point is an ordinary backup past the cap.
    time.set("2026-11-23T02:00:00Z");
    const second = await capRetain();
    expect(second.tenants[0]?.expired.map((e) => [e.backup_id, e.deleted])).toEqual([[undo, true]]);
    const left = await capped.storage.list(`tenant-backups/${ORG_A}/`);
    expect(
      left.filter((o) => o.path.includes("/summary-")).map((o) => o.path.includes(newest.backupId)),
    ).toEqual([true]);
  });

  it("leaves a tenant alone while its lease is held (a running restore), and cleans it up afterwards", async () => {
    await take(ORG_A, "2026-09-01T10:00:00Z");
    await take(ORG_A, "2026-11-20T10:00:00Z");
    time.set("2026-11-22T03:00:00Z");
    const lock = await services.db.acquireLock(ORG_A, "restore:2026-09-01", "restorer", 120);
    expect(lock.acquired).toBe(true);
    const busy = await retain();
    expect(busy.complete).toBe(false);
    expect(busy.tenants.find((t) => t.organization_id === ORG_A)).toMatchObject({
      status: "busy",
      expired: [],
    });
    expect(await summaries(ORG_A)).toEqual(["2026-09-01", "2026-11-20"]);
    // The restore's lease is untouched.
    const held = await db.client.query("select holder from tenant_backup_locks where organization_id = $1", [
      ORG_A,
    ]);
    expect(held.rows[0]?.holder).toBe("restorer");

    await services.db.releaseLock(ORG_A, "restorer");
    expect((await retain()).deleted_backups).toBe(1);
    expect(await summaries(ORG_A)).toEqual(["2026-11-20"]);
  });

  it("removes the files of runs that never got a summary after a day, but never those of a run still 'running'", async () => {
    await take(ORG_A, "2026-11-01T10:00:00Z");
    // A run that failed before its summary: the parts are written, the summary never is.
    const failing = {
      ...services,
      storage: {
        ...services.storage,
        kind: services.storage.kind,
        get: services.storage.get,
        list: services.storage.list,
        remove: services.storage.remove,
        async put(path: string, data: Uint8Array, type: string) {
          if (path.includes("/summary-")) throw new StorageError("failed", "bucket refused the summary");
          return services.storage.put(path, data, type);
        },
      },
    } as Services;
    time.set("2026-11-10T10:00:00Z");
    await expect(runManualBackup(failing, ORG_A, { deadline: deadlineIn(time) })).rejects.toThrow(/summary/);
    const failed = await db.client.query("select backup_id from tenant_backup_runs where status = 'failed'");
    const failedId = failed.rows[0].backup_id as string;
    // A run still 'running' (cut by its time budget, to be continued), with files of days ago.
    const runningId = "20261110T110000000Z-beef";
    await services.db.startRun({
      backupId: runningId,
      tenantId: ORG_A,
      date: "2026-11-10",
      type: "manual",
      logType: "manual_tenant",
    });
    await services.storage.put(
      `tenant-backups/${ORG_A}/2026-11-10/${runningId}/notes.0000.jsonl.gz`,
      new Uint8Array([1]),
      "application/gzip",
    );
    // Files of a run that started a few hours ago: too young to judge.
    const youngId = "20261121T230000000Z-cafe";
    await services.storage.put(
      `tenant-backups/${ORG_A}/2026-11-21/${youngId}/notes.0000.jsonl.gz`,
      new Uint8Array([2]),
      "application/gzip",
    );

    time.set("2026-11-22T03:00:00Z");
    const dry = await retain(true);
    const planned = dry.tenants.find((t) => t.organization_id === ORG_A);
    expect(planned?.orphans.map((o) => o.backup_id)).toEqual([failedId]);

    const result = await retain();
    const tenant = result.tenants.find((t) => t.organization_id === ORG_A);
    expect(tenant?.orphans).toEqual([expect.objectContaining({ backup_id: failedId, deleted: true })]);
    expect(tenant?.skipped).toEqual([expect.objectContaining({ backup_id: runningId })]);
    const paths = (await services.storage.list(`tenant-backups/${ORG_A}/`)).map((o) => o.path);
    expect(paths.some((p) => p.includes(failedId))).toBe(false);
    expect(paths.some((p) => p.includes(runningId))).toBe(true);
    expect(paths.some((p) => p.includes(youngId))).toBe(true);
    expect(await summaries(ORG_A)).toEqual(["2026-11-01"]);
    const logs = await retentionLogs();
    expect(logs).toEqual([expect.objectContaining({ backup_id: failedId, status: "completed" })]);
    expect(logs[0].details.reason).toContain("orphan");
  });

  it("runs after the daily run only once the run is complete", async () => {
    const old = await take(ORG_A, "2026-09-01T10:00:00Z");
    // Storing a part takes longer than the whole budget: every call stores one part.
    const opening = await createTestServices(db.url, { BACKUP_DIR: services.backupDir }, { clock: time });
    opened.push(opening);
    const slow = { ...opening, storage: storageTakingTime(opening.storage, time, 60_000) };
    time.set("2026-11-22T02:00:00Z");
    const statuses: number[] = [];
    for (let i = 0; i < 50; i++) {
      const response = await call(handleDailyTenantBackup, slow, "daily-tenant-backup", {
        token: TEST_CRON_SECRET,
      });
      statuses.push(response.status);
      if (response.status === 202) {
        expect(response.body.retention).toMatchObject({ applied: false });
        // Nothing deleted while the run is incomplete.
        expect(await summaries(ORG_A)).toContain("2026-09-01");
        continue;
      }
      expect(response.status).toBe(200);
      expect(response.body.retention).toMatchObject({ applied: true, deleted_backups: 1 });
      break;
    }
    expect(statuses.length).toBeGreaterThan(1);
    expect(statuses.at(-1)).toBe(200);
    expect(await summaries(ORG_A)).toEqual(["2026-11-22"]);
    expect((await retentionLogs()).map((l) => l.backup_id)).toEqual([old.backupId]);
  });

  it("is available on demand through apply-retention, for one tenant or all", async () => {
    await take(ORG_A, "2026-09-01T10:00:00Z");
    await take(ORG_A, "2026-11-20T10:00:00Z");
    await take(ORG_B, "2026-09-01T10:00:00Z");
    await take(ORG_B, "2026-11-20T10:00:00Z");
    time.set("2026-11-22T03:00:00Z");
    const dry = await call(handleApplyRetention, services, "apply-retention", {
      token: TEST_CRON_SECRET,
      body: { dry_run: true },
    });
    expect(dry.status).toBe(200);
    expect(dry.body.message).toBe("would delete 2 backups and the files of 0 unfinished runs");
    const one = await call(handleApplyRetention, services, "apply-retention", {
      token: TEST_CRON_SECRET,
      body: { organization_id: ORG_B },
    });
    expect(one.status).toBe(200);
    expect(one.body.retention.tenants.map((t: { organization_id: string }) => t.organization_id)).toEqual([
      ORG_B,
    ]);
    expect(await summaries(ORG_B)).toEqual(["2026-11-20"]);
    expect(await summaries(ORG_A)).toEqual(["2026-09-01", "2026-11-20"]);
    const bad = await call(handleApplyRetention, services, "apply-retention", {
      token: TEST_CRON_SECRET,
      body: { dry_run: "yes" },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.field).toBe("dry_run");
  });
});
