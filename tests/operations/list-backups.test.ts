/**
 * list-backups: newest first, filtered by type, paged by backup id; a damaged summary is listed as such
 * instead of failing the whole list; history pages through backup_logs, deletions included.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handleDeleteBackup } from "../../functions/delete-backup.ts";
import { handleListBackups } from "../../functions/list-backups.ts";
import { backupTenant } from "../../lib/backup/tenant-backup.ts";
import { call } from "../support/call.ts";
import { deadlineIn, testClock } from "../support/clock.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { createTestServices, TEST_CRON_SECRET, type TestServices } from "../support/services.ts";
import { backupAt, installSmallApp, ORG_A } from "./small-app.ts";

let db: TestDatabase;
let services: TestServices;
const time = testClock();
const taken: { backupId: string; type: string }[] = [];

beforeAll(async () => {
  db = await createTestDatabase("migrated");
  await installSmallApp(db.owner);
  services = await createTestServices(db.url, {}, { clock: time });
  for (const day of ["2026-11-15", "2026-11-16", "2026-11-17", "2026-11-18"]) {
    taken.push({ ...(await backupAt(services, time.set, ORG_A, `${day}T09:00:00Z`)), type: "manual" });
    time.set(`${day}T02:00:00Z`);
    const daily = await backupTenant(services, {
      tenantId: ORG_A,
      tenantName: "Alpha",
      type: "daily",
      date: day,
      deadline: deadlineIn(time),
    });
    taken.push({ backupId: daily.backupId, type: "daily" });
  }
  taken.sort((a, b) => (a.backupId < b.backupId ? 1 : -1));
});

afterAll(async () => {
  await services?.cleanup();
  await db?.drop();
});

const list = (query: Record<string, string> = {}) =>
  call(handleListBackups, services, "list-backups", {
    method: "GET",
    token: TEST_CRON_SECRET,
    query: { organization_id: ORG_A, ...query },
  });

describe("list-backups", () => {
  it("lists every backup newest first with what the admin page shows", async () => {
    const response = await list();
    expect(response.status).toBe(200);
    expect(response.body.organization_name).toBe("Alpha");
    expect(response.body.backups.map((b: { backup_id: string }) => b.backup_id)).toEqual(
      taken.map((t) => t.backupId),
    );
    expect(response.body.backups[0]).toMatchObject({
      backup_date: "2026-11-18",
      backup_type: "manual",
      status: "completed",
      files_present: true,
      tables: 3,
      total_records: 23,
    });
    expect(response.body.backups[0].total_size).toBeGreaterThan(0);
    // Sizes only are compared: no field claims the checksums were read.
    expect(response.body.backups[0]).not.toHaveProperty("verified");
    expect(response.body.backups_next_before).toBeNull();
  });

  it("filters by type", async () => {
    const daily = await list({ type: "daily" });
    expect(daily.body.backups.map((b: { backup_id: string }) => b.backup_id)).toEqual(
      taken.filter((t) => t.type === "daily").map((t) => t.backupId),
    );
    expect((await list({ type: "pre_restore" })).body.backups).toEqual([]);
    const bad = await list({ type: "weekly" });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.field).toBe("type");
  });

  it("pages by backup id, with and without a type", async () => {
    const filters: Record<string, string>[] = [{}, { type: "manual" }];
    for (const filter of filters) {
      const expected = taken
        .filter((t) => filter.type === undefined || t.type === filter.type)
        .map((t) => t.backupId);
      const seen: string[] = [];
      let before: string | null = null;
      for (let page = 0; page < 10; page++) {
        const response = await list({ ...filter, limit: "3", ...(before ? { before } : {}) });
        expect(response.body.backups.length).toBeLessThanOrEqual(3);
        seen.push(...response.body.backups.map((b: { backup_id: string }) => b.backup_id));
        before = response.body.backups_next_before;
        if (!before) break;
      }
      expect(seen).toEqual(expected);
    }
  });

  it("lists a damaged summary as damaged and the others as usual", async () => {
    const newest = taken[0] as { backupId: string };
    const path = `tenant-backups/${ORG_A}/2026-11-18/summary-${newest.backupId}.json`;
    const original = await services.storage.get(path);
    await services.storage.put(path, Buffer.from('{"format": "something else"}'), "application/json");
    try {
      const response = await list();
      expect(response.status).toBe(200);
      expect(response.body.backups[0]).toMatchObject({
        backup_id: newest.backupId,
        status: "damaged",
        files_present: false,
      });
      expect(response.body.backups[0].error).toContain("damaged");
      expect(response.body.backups.slice(1).every((b: { status: string }) => b.status === "completed")).toBe(
        true,
      );
      // A damaged backup has no known type: a type filter leaves it out.
      expect((await list({ type: "manual" })).body.backups[0].backup_id).not.toBe(newest.backupId);
    } finally {
      await services.storage.put(path, original, "application/json");
    }
  });

  it("pages the history, deletions included", async () => {
    const oldest = taken.at(-1) as { backupId: string };
    const deleted = await call(handleDeleteBackup, services, "delete-backup", {
      token: TEST_CRON_SECRET,
      body: { organization_id: ORG_A, backup_id: oldest.backupId },
    });
    expect(deleted.status).toBe(200);
    const first = await list({ history_limit: "2" });
    expect(first.body.history).toHaveLength(2);
    expect(first.body.history[0]).toMatchObject({ backup_type: "delete", backup_id: oldest.backupId });
    const second = await list({
      history_limit: "50",
      history_before: String(first.body.history_next_before),
    });
    const types = second.body.history.map((h: { backup_type: string }) => h.backup_type);
    expect(types).toContain("daily_tenant");
    expect(types).toContain("manual_tenant");
    expect(first.body.backups.map((b: { backup_id: string }) => b.backup_id)).not.toContain(oldest.backupId);
  });

  it("answers 404 for an organization with neither a row nor backups", async () => {
    const response = await list({ organization_id: "org-none" });
    expect(response.status).toBe(404);
  });
});
