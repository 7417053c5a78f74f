/**
 * delete-backup: summary first, then files, so that a half-deleted backup never looks complete; under
 * the tenant's lease; never the only backup by accident; logged.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { handleDeleteBackup } from "../../functions/delete-backup.ts";
import { handleListBackups } from "../../functions/list-backups.ts";
import type { Services } from "../../lib/services.ts";
import { StorageError } from "../../lib/storage/port.ts";
import { call } from "../support/call.ts";
import { type TestClock, testClock } from "../support/clock.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { createTestServices, TEST_CRON_SECRET, type TestServices } from "../support/services.ts";
import { backupAt, installSmallApp, ORG_A } from "./small-app.ts";

let db: TestDatabase;
let services: TestServices;
let time: TestClock;
let first: { backupId: string; date: string };
let second: { backupId: string; date: string };

beforeAll(async () => {
  db = await createTestDatabase("migrated");
  await installSmallApp(db.owner);
  return async () => db.drop();
});

beforeEach(async () => {
  time = testClock();
  services = await createTestServices(db.url, { BACKUP_LAYOUT: "files" }, { clock: time });
  first = await backupAt(services, time.set, ORG_A, "2026-11-20T10:00:00Z");
  second = await backupAt(services, time.set, ORG_A, "2026-11-21T10:00:00Z");
});

afterEach(async () => {
  await services.cleanup();
});

const remove = (body: unknown, s: Services = services, method = "POST") =>
  call(handleDeleteBackup, s, "delete-backup", { method, token: TEST_CRON_SECRET, body });
const listed = async (s: Services = services) =>
  (
    await call(handleListBackups, s, "list-backups", {
      method: "GET",
      token: TEST_CRON_SECRET,
      query: { organization_id: ORG_A },
    })
  ).body.backups.map((b: { backup_id: string }) => b.backup_id);

describe("delete-backup", () => {
  it("deletes the summary first, then every file, and logs it", async () => {
    const removals: string[][] = [];
    const recording = {
      ...services,
      storage: {
        ...services.storage,
        kind: services.storage.kind,
        remove: async (paths: string[]) => {
          removals.push(paths);
          return services.storage.remove(paths);
        },
      },
    } as Services;
    const response = await remove({ organization_id: ORG_A, backup_id: first.backupId }, recording);
    expect(response.status).toBe(200);
    expect(response.body.deleted).toMatchObject({ backup_id: first.backupId, backup_date: "2026-11-20" });
    expect(removals[0]).toEqual([`tenant-backups/${ORG_A}/2026-11-20/summary-${first.backupId}.json`]);
    expect(
      removals
        .slice(1)
        .flat()
        .every((p) => p.includes(`/${first.backupId}/`)),
    ).toBe(true);
    expect(removals.slice(1).flat().length).toBe(response.body.deleted.files);
    const left = await services.storage.list(`tenant-backups/${ORG_A}/`);
    expect(left.some((o) => o.path.includes(first.backupId))).toBe(false);
    expect(await listed()).toEqual([second.backupId]);

    const log = await db.client.query(
      "select status, backup_id, records_count, file_size, details from backup_logs where backup_type = 'delete' order by id desc limit 1",
    );
    expect(log.rows[0]).toMatchObject({ status: "completed", backup_id: first.backupId });
    expect(Number(log.rows[0].records_count)).toBeGreaterThan(0);
    expect(log.rows[0].details.actor).toBe("cron");
  });

  it("never leaves a backup that looks complete when deleting its files fails", async () => {
    const failing = {
      ...services,
      storage: {
        ...services.storage,
        kind: services.storage.kind,
        remove: async (paths: string[]) => {
          if (paths.some((p) => !p.includes("/summary-")))
            throw new StorageError("transient", "storage down");
          return services.storage.remove(paths);
        },
      },
    } as Services;
    const response = await remove({ organization_id: ORG_A, backup_id: first.backupId }, failing);
    // Storage that is down is answered as such, not as a bug.
    expect(response.status).toBe(503);
    expect(response.body.error.code).toBe("storage_unavailable");
    // The summary is gone, so the backup is gone; its files wait for the orphan cleanup.
    expect(await listed()).toEqual([second.backupId]);
    const files = await services.storage.list(`tenant-backups/${ORG_A}/2026-11-20/${first.backupId}/`);
    expect(files.length).toBeGreaterThan(0);
    const log = await db.client.query(
      "select status, error_message from backup_logs where backup_type = 'delete' order by id desc limit 1",
    );
    expect(log.rows[0].status).toBe("failed");
    expect(log.rows[0].error_message).toContain("orphan");
  });

  it("accepts DELETE too, and refuses GET with 405", async () => {
    expect(
      (await remove({ organization_id: ORG_A, backup_id: first.backupId }, services, "DELETE")).status,
    ).toBe(200);
    const get = await call(handleDeleteBackup, services, "delete-backup", {
      method: "GET",
      token: TEST_CRON_SECRET,
    });
    expect(get.status).toBe(405);
  });

  it("answers 404 for an unknown backup and 400 naming a bad field", async () => {
    const unknown = await remove({ organization_id: ORG_A, backup_id: "20200101T000000000Z-0000" });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.details.field).toBe("backup_id");
    for (const [body, field] of [
      [{ organization_id: ORG_A, backup_id: "../../etc" }, "backup_id"],
      [{ organization_id: ORG_A }, "backup_id"],
      [{ organization_id: ORG_A, backup_id: first.backupId, force: "yes" }, "force"],
      [{ organization_id: ORG_A, backup_id: first.backupId, extra: 1 }, "extra"],
    ] as const) {
      const response = await remove(body);
      expect(response.status).toBe(400);
      expect(response.body.error.details.field).toBe(field);
    }
    expect(await listed()).toHaveLength(2);
  });

  it("answers 409 while the tenant's lease is held (a restore may be reading the backup)", async () => {
    await services.db.acquireLock(ORG_A, "restore:2026-11-20", "restorer", 60);
    try {
      const response = await remove({ organization_id: ORG_A, backup_id: first.backupId });
      expect(response.status).toBe(409);
      expect(response.body.error.details.operation).toBe("restore:2026-11-20");
      expect(await listed()).toHaveLength(2);
    } finally {
      await services.db.releaseLock(ORG_A, "restorer");
    }
  });

  it("deletes a tenant's only backup only with force", async () => {
    expect((await remove({ organization_id: ORG_A, backup_id: first.backupId })).status).toBe(200);
    const refused = await remove({ organization_id: ORG_A, backup_id: second.backupId });
    expect(refused.status).toBe(409);
    expect(refused.body.error.details.field).toBe("force");
    const forced = await remove({ organization_id: ORG_A, backup_id: second.backupId, force: true });
    expect(forced.status).toBe(200);
    expect(await services.storage.list(`tenant-backups/${ORG_A}/`)).toEqual([]);
  });
});
