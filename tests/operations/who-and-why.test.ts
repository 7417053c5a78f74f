/**
 * Who and why: every backup and restore keeps who started it ("cron", or the user id and e-mail from the
 * token) and the note given, in its manifest and its backup_logs row; list-backups shows both on each
 * backup and in the history.
 */
import { setupServer } from "msw/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handleBackupTenantData } from "../../functions/backup-tenant-data.ts";
import { handleDailyTenantBackup } from "../../functions/daily-tenant-backup.ts";
import { handleListBackups } from "../../functions/list-backups.ts";
import { handleRestoreTenantData } from "../../functions/restore-tenant-data.ts";
import { readManifest } from "../../lib/backup/reader.ts";
import { AUTH_ENV, createAuthority } from "../auth/tokens.ts";
import { call } from "../support/call.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { createTestServices, TEST_CRON_SECRET, type TestServices } from "../support/services.ts";
import { installSmallApp, ORG_A, USERS } from "./small-app.ts";

const server = setupServer();
let db: TestDatabase;
let services: TestServices;
let adminToken: string;
const ADMIN = { user_id: USERS.adminA.id, email: "alpha.admin@example.com" };

beforeAll(async () => {
  const authority = await createAuthority();
  server.listen({ onUnhandledRequest: "error" });
  server.resetHandlers(authority.handler());
  db = await createTestDatabase("migrated");
  await installSmallApp(db.owner);
  services = await createTestServices(db.url, {
    ...AUTH_ENV,
    MANUAL_BACKUP_MIN_INTERVAL_SECONDS: "0",
    DRY_RUN_MIN_INTERVAL_SECONDS: "0",
    RESTORE_MIN_INTERVAL_SECONDS: "0",
  });
  // Valid across the days the test clock moves through.
  adminToken = await authority.sign(USERS.adminA.id, {
    claims: { email: ADMIN.email },
    expiresIn: 7 * 86_400,
  });
});

afterAll(async () => {
  server.close();
  await services?.cleanup();
  await db?.drop();
});

const list = () =>
  call(handleListBackups, services, "list-backups", {
    method: "GET",
    token: TEST_CRON_SECRET,
    query: { organization_id: ORG_A },
  });

describe("who started a backup or restore, and why", () => {
  it("keeps the user and the note of a manual backup in its manifest, the list and the history", async () => {
    services.clock.set("2026-12-02T09:00:00.000Z");
    const made = await call(handleBackupTenantData, services, "backup-tenant-data", {
      token: adminToken,
      body: { organization_id: ORG_A, note: "  before the price import  " },
    });
    expect(made.status).toBe(200);
    const manifest = await readManifest(services.storage, made.body.backup.summary_path);
    expect(manifest.created_by).toEqual(ADMIN);
    expect(manifest.note).toBe("before the price import");

    const listed = await list();
    expect(listed.body.backups[0]).toMatchObject({
      backup_id: made.body.backup.backup_id,
      created_by: ADMIN,
      note: "before the price import",
    });
    const row = listed.body.history.find(
      (h: { backup_id: string }) => h.backup_id === made.body.backup.backup_id,
    );
    expect(row).toMatchObject({
      backup_type: "manual_tenant",
      created_by: ADMIN,
      note: "before the price import",
    });
  });

  it("names the cron as the starter of a scheduled backup, without a note", async () => {
    services.clock.set("2026-12-03T03:00:00.000Z");
    const run = await call(handleDailyTenantBackup, services, "daily-tenant-backup", {
      token: TEST_CRON_SECRET,
    });
    expect(run.status).toBe(200);
    const listed = await list();
    const daily = listed.body.backups.find((b: { backup_type: string }) => b.backup_type === "daily");
    expect(daily).toMatchObject({ created_by: "cron", note: null });
    const row = listed.body.history.find((h: { backup_id: string }) => h.backup_id === daily.backup_id);
    expect(row).toMatchObject({ backup_type: "daily_tenant", created_by: "cron", note: null });
  });

  it("keeps who restored and why on the restore's row and on its undo point", async () => {
    services.clock.set("2026-12-03T10:00:00.000Z");
    const restored = await call(handleRestoreTenantData, services, "restore-tenant-data", {
      token: adminToken,
      body: {
        organization_id: ORG_A,
        backup_date: "2026-12-03",
        dry_run: false,
        note: "undo the bad import",
      },
    });
    expect(restored.status).toBe(200);
    const undoId = restored.body.summary.undo_backup_id;
    const listed = await list();
    expect(listed.body.backups.find((b: { backup_id: string }) => b.backup_id === undoId)).toMatchObject({
      backup_type: "pre_restore",
      created_by: ADMIN,
      note: "undo the bad import",
    });
    const row = listed.body.history.find(
      (h: { backup_type: string; dry_run: boolean }) => h.backup_type === "restore" && !h.dry_run,
    );
    expect(row).toMatchObject({ status: "completed", created_by: ADMIN, note: "undo the bad import" });
  });

  it("refuses a note that is too long or not text, naming the field", async () => {
    for (const note of ["x".repeat(501), 42]) {
      const refused = await call(handleBackupTenantData, services, "backup-tenant-data", {
        token: adminToken,
        body: { organization_id: ORG_A, note },
      });
      expect(refused.status).toBe(400);
      expect(refused.body.error.message).toContain("note");
    }
  });
});
