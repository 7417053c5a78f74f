/**
 * Restores that must not go through, and what they say: a selection of tables that would strand rows of a
 * table left out (409 naming it and the foreign key), a tenant busy with another operation (409 for
 * restore and backup alike), a row that moved to another tenant (the dry run reports the database's exact
 * error with 200, the real restore answers 422 with the same). Nothing changes in any of them, and each
 * restore or dry run that ran leaves its 'restore' row in backup_logs.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handleBackupTenantData } from "../../functions/backup-tenant-data.ts";
import { call } from "../support/call.ts";
import type { TestDatabase } from "../support/database.ts";
import { createTestServices, TEST_CRON_SECRET, type TestServices } from "../support/services.ts";
import { snapshot } from "../support/snapshot.ts";
import {
  APP_ENV,
  APP_TABLES,
  BACKUP_DATE,
  backup,
  createAppDatabase,
  restore,
  restoreLogs,
  workspaceSnapshot,
} from "./app.ts";

let db: TestDatabase;
let services: TestServices;
let original: Record<string, string>;

// The app at work: its own role changes its data and schema, as `postgres` does on Supabase.
const q = (sql: string) => db.owner.query(sql);
const everything = () => snapshot(db.client, [...APP_TABLES]);
const body = (extra: Record<string, unknown> = {}) => ({
  organization_id: "w1",
  backup_date: BACKUP_DATE,
  ...extra,
});

beforeAll(async () => {
  db = await createAppDatabase();
  services = await createTestServices(db.url, APP_ENV);
  original = await workspaceSnapshot(db.client, "= 'w1'");
  await backup(services, "w1");
  await backup(services, "w2");
});

afterAll(async () => {
  await services?.cleanup();
  await db?.drop();
});

describe("restoring selected tables", () => {
  it("refuses (409) to remove parent rows that a table left out points at with ON DELETE CASCADE", async () => {
    // A contact made since the backup, with a deal: restoring contacts alone would remove the contact.
    const contact = await q(`insert into contacts (workspace_id, first_name, last_name, email)
                             values ('w1', 'Since', 'Backup', 'since@example.com') returning id`);
    await q(`insert into deals (workspace_id, contact_id, amount) values ('w1', ${contact.rows[0].id}, 1)`);
    const before = await everything();
    const logs = await restoreLogs(db.client);
    const expectedError = {
      sqlstate: "TB005",
      message:
        "1 rows of deals would reference contacts rows the restore removes (foreign key deals_contact_id_fkey, on delete cascade); restore deals too",
      table: "deals",
      constraint: "deals_contact_id_fkey",
    };

    const dry = await restore(services, body({ dry_run: true, tables: ["contacts"] }));
    expect(dry.status, JSON.stringify(dry.body)).toBe(200);
    expect(dry.body.success).toBe(false);
    expect(dry.body.summary.errors).toEqual([expectedError]);
    expect(dry.body.tables.contacts.success).toBe(true);

    const real = await restore(services, body({ dry_run: false, tables: ["contacts"] }));
    expect(real.status, JSON.stringify(real.body)).toBe(409);
    expect(real.body.error.code).toBe("conflict");
    expect(real.body.error.details.error).toEqual(expectedError);
    expect(await everything()).toEqual(before);
    expect(await restoreLogs(db.client)).toEqual([...logs, [true, "failed"], [false, "failed"]]);

    await q(`delete from contacts where id = ${contact.rows[0].id}`);
  });

  it("changes only the selected tables when that is safe", async () => {
    await q("update contacts set first_name = 'Edited' where id in (1, 2, 3)");
    await q("delete from contacts where id = 4");
    await q("update deals set amount = amount + 100 where workspace_id = 'w1' and id <= 10");
    await q("update deal_notes set body = 'edited' where id = 1");
    const changed = await workspaceSnapshot(db.client, "= 'w1'");
    const others = await workspaceSnapshot(db.client, "<> 'w1'");

    const real = await restore(services, body({ dry_run: false, tables: ["contacts"] }));
    expect(real.status, JSON.stringify(real.body)).toBe(200);
    expect(Object.keys(real.body.tables)).toEqual(["contacts"]);
    expect(real.body.summary.total_tables).toBe(1);
    expect(real.body.tables.contacts).toMatchObject({ would_insert: 1, would_delete: 0, would_change: 3 });
    expect(await workspaceSnapshot(db.client, "= 'w1'")).toEqual({ ...changed, contacts: original.contacts });
    expect(await workspaceSnapshot(db.client, "<> 'w1'")).toEqual(others);

    const rest = await restore(services, body({ dry_run: false, tables: ["deal_notes", "deals"] }));
    expect(rest.status, JSON.stringify(rest.body)).toBe(200);
    expect(await workspaceSnapshot(db.client, "= 'w1'")).toEqual(original);
  });
});

describe("one operation per tenant", () => {
  it("answers 409 to a restore and to a backup while the tenant's lease is held, and leaves the lease alone", async () => {
    const lease = await services.db.acquireLock("w1", "restore", "someone-else", 60);
    expect(lease.acquired).toBe(true);
    const logs = await db.client.query("select count(*)::int as n from backup_logs");
    try {
      for (const dryRun of [true, false]) {
        const busy = await restore(services, body({ dry_run: dryRun }));
        expect(busy.status, JSON.stringify(busy.body)).toBe(409);
        expect(busy.body.error).toMatchObject({ code: "conflict", details: { operation: "restore" } });
      }
      const backupBusy = await call(handleBackupTenantData, services, "backup-tenant-data", {
        token: TEST_CRON_SECRET,
        body: { organization_id: "w1" },
      });
      expect(backupBusy.status, JSON.stringify(backupBusy.body)).toBe(409);
      expect(backupBusy.body.error).toMatchObject({ code: "conflict", details: { operation: "restore" } });

      // Still held by its holder; nothing was logged for work that never started.
      const held = await q("select holder from tenant_backup_locks where organization_id = 'w1'");
      expect(held.rows).toEqual([{ holder: "someone-else" }]);
      expect((await db.client.query("select count(*)::int as n from backup_logs")).rows[0].n).toBe(
        logs.rows[0].n,
      );
      // Another tenant is not affected.
      const other = await restore(services, {
        organization_id: "w2",
        backup_date: BACKUP_DATE,
        dry_run: true,
      });
      expect(other.status, JSON.stringify(other.body)).toBe(200);
    } finally {
      await services.db.releaseLock("w1", "someone-else");
    }
    const free = await restore(services, body({ dry_run: true }));
    expect(free.status, JSON.stringify(free.body)).toBe(200);
  });
});

describe("a restore that fails in the database", () => {
  it("is reported exactly by the dry run (200, success false) and refused by the real restore (422)", async () => {
    // Contact 6 (no deals) moved to w2 since the backup: writing it back into w1 hits its primary key.
    await q("update contacts set workspace_id = 'w2' where id = 6");
    const before = await everything();
    const logs = await restoreLogs(db.client);
    const expectedError = {
      sqlstate: "23505",
      message: 'duplicate key value violates unique constraint "contacts_pkey"',
      detail: "Key (id)=(6) already exists.",
      table: "contacts",
      constraint: "contacts_pkey",
    };

    const dry = await restore(services, body({ dry_run: true }));
    expect(dry.status, JSON.stringify(dry.body)).toBe(200);
    expect(dry.body.success).toBe(false);
    expect(dry.body.message).toBe(
      `dry run: the restore would fail: ${expectedError.message}; nothing was changed`,
    );
    expect(dry.body.summary.errors).toEqual([expect.objectContaining(expectedError)]);
    expect(dry.body.tables.contacts.success).toBe(false);
    expect(dry.body.tables.deals.success).toBe(true);
    expect(await everything()).toEqual(before);

    const real = await restore(services, body({ dry_run: false }));
    expect(real.status, JSON.stringify(real.body)).toBe(422);
    expect(real.body.error.code).toBe("unprocessable");
    expect(real.body.error.message).toBe(`restore failed, nothing was changed: ${expectedError.message}`);
    // The very error the dry run announced.
    expect(real.body.error.details.error).toEqual(dry.body.summary.errors[0]);
    expect(await everything()).toEqual(before);

    const rows = await q(
      "select dry_run, status, error_message from backup_logs where backup_type = 'restore' order by id",
    );
    expect(rows.rows.slice(logs.length)).toEqual([
      { dry_run: true, status: "failed", error_message: expectedError.message },
      { dry_run: false, status: "failed", error_message: expectedError.message },
    ]);
  });
});
