/**
 * Replica mode when the restore's SQL is owned by a role that is not a superuser, as `postgres` is on
 * hosted Supabase. There, supautils lets `postgres` change session_replication_role through a SET
 * statement only (checked against current_user, the owner inside SECURITY DEFINER); set_config() never
 * reaches that check and is refused. Plain PostgreSQL has no supautils: what stands in for its allowance
 * here is `GRANT SET ON PARAMETER session_replication_role` (PostgreSQL 15 and later), which SET honours as
 * set_config() does, so the difference between the two forms cannot be shown here; that the SQL in effect
 * uses the statement form is checked from the catalog instead.
 * - Owner granted the setting: the restore runs in replica mode, and no app trigger fires.
 * - Owner without it: "auto" falls back to mode "triggers"; the dry run says so beforehand, naming the
 *   triggers that will fire, and backup_logs records the mode and the warning.
 *
 * Each owner owns the app's tables and our SQL (the migrations run as it) and is the product's login, the
 * way `postgres` is on Supabase; neither is a superuser. Both are cluster roles from tests/support/roles.ts.
 */
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restoreTenant } from "../../lib/restore/restore-tenant.ts";
import { applyMigrations } from "../../scripts/migrate.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { installSupabaseDefaults, OWNER, OWNER_WITHOUT_REPLICA, type OwnerRole } from "../support/roles.ts";
import { createTestServices, type TestServices } from "../support/services.ts";
import { snapshot } from "../support/snapshot.ts";
import { APP_ENV, APP_TABLES, auditCounts, BACKUP_DATE, backup, fixture } from "./app.ts";

/** Allowed to set session_replication_role, as supautils allows Supabase's `postgres`. */
const GRANTED_OWNER = OWNER;
/** Not allowed: plain PostgreSQL's default for a role that is not a superuser. */
const PLAIN_OWNER = OWNER_WITHOUT_REPLICA;

/** A database owned by `owner`, holding the restore app and our SQL, all created connected as `owner`. */
async function ownedDatabase(owner: OwnerRole): Promise<TestDatabase> {
  const db = await createTestDatabase("empty", { owner });
  await installSupabaseDefaults(db.owner);
  await db.owner.query(fixture("restore-app.sql"));
  await db.owner.query(fixture("restore-app-data.sql"));
  await applyMigrations(db.owner);
  return db;
}

/** Whether the product's login (the database URL the services get) is a superuser: it must not be. */
async function productLogin(db: TestDatabase) {
  const { rows } = await db.client.query("select rolname, rolsuper from pg_roles where rolname = $1", [
    decodeURIComponent(new URL(db.url).username),
  ]);
  return rows[0];
}

/** The app at work on w1 after the backup: a contact goes, another changes. */
async function changeW1(client: pg.ClientBase, tag: string) {
  await client.query("delete from deal_notes where deal_id in (select id from deals where contact_id = 1)");
  await client.query("delete from deals where contact_id = 1");
  await client.query("delete from contacts where id = 1");
  await client.query(`update contacts set phone = '${tag}' where id = 4`);
}

function restoreW1(services: TestServices, dryRun: boolean) {
  return restoreTenant(services, {
    tenantId: "w1",
    backupDate: BACKUP_DATE,
    dryRun,
    deadline: Date.now() + 60_000,
  });
}

async function lastRestoreLog(client: pg.ClientBase) {
  const { rows } = await client.query(
    "select dry_run, details from backup_logs where backup_type = 'restore' order by id desc limit 1",
  );
  return rows[0];
}

describe("the SQL in effect", () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase("migrated");
  });

  afterAll(async () => {
    await db?.drop();
  });

  it("never sets session_replication_role through set_config(), only by a SET statement", async () => {
    // The latest definition of every function of ours, as the migrations leave it.
    const { rows } = await db.client.query<{ name: string; src: string }>(
      "select proname as name, prosrc as src from pg_proc where pronamespace = 'public'::regnamespace and proname like 'tenant\\_backup\\_%'",
    );
    expect(rows.length).toBeGreaterThan(20);
    const bySetConfig = rows.filter((r) => /set_config\s*\(\s*'session_replication_role'/i.test(r.src));
    expect(bySetConfig.map((r) => r.name)).toEqual([]);
    const bySet = rows.filter((r) => /set\s+local\s+session_replication_role\s*=\s*replica/i.test(r.src));
    expect(bySet.map((r) => r.name)).toEqual(["tenant_backup_apply_mode"]);
  });
});

describe("with an owner allowed to set session_replication_role", () => {
  let db: TestDatabase;
  let services: TestServices;

  beforeAll(async () => {
    db = await ownedDatabase(GRANTED_OWNER);
    services = await createTestServices(db.url, APP_ENV);
    await backup(services, "w1");
  });

  afterAll(async () => {
    await services?.cleanup();
    await db?.drop();
  });

  it("runs the restore in replica mode, as that owner, and no app trigger fires", async () => {
    const owner = await db.client.query(
      "select pg_get_userbyid(proowner) as owner, prosecdef from pg_proc where proname = 'tenant_backup_apply'",
    );
    expect(owner.rows).toEqual([{ owner: GRANTED_OWNER, prosecdef: true }]);
    expect(await productLogin(db)).toEqual({ rolname: GRANTED_OWNER, rolsuper: false });
    const original = await snapshot(db.client, [...APP_TABLES]);
    await changeW1(db.owner, "granted");
    await db.client.query("truncate audit_events");

    const outcome = await restoreW1(services, false);
    if (outcome.status !== "done") throw new Error(`restore: ${outcome.status}`);
    expect(outcome.report).toMatchObject({ success: true, mode: "replica", warnings: [], error: null });
    expect(outcome.report.tables.contacts).toMatchObject({ would_insert: 1, would_change: 1 });
    expect(await snapshot(db.client, [...APP_TABLES])).toEqual(original);
    expect(await auditCounts(db.client)).toEqual({});
    expect((await lastRestoreLog(db.client)).details).toMatchObject({ mode: "replica", warnings: [] });
  });
});

describe("with an owner not allowed to set session_replication_role", () => {
  let db: TestDatabase;
  let services: TestServices;

  beforeAll(async () => {
    db = await ownedDatabase(PLAIN_OWNER);
    services = await createTestServices(db.url, APP_ENV);
    await backup(services, "w1");
  });

  afterAll(async () => {
    await services?.cleanup();
    await db?.drop();
  });

  const WARNING =
    `replica mode is not allowed (${PLAIN_OWNER} may not set session_replication_role), so the restore runs ` +
    'in mode "triggers": these triggers fire for the rows it changes: contacts.contacts_audit, ' +
    "deal_notes.deal_notes_audit, deals.deals_audit, and rows of tables outside the restore may not " +
    "reference the restored rows";

  it("warns in the dry run that the restore will run in triggers mode, naming the triggers", async () => {
    expect(await productLogin(db)).toEqual({ rolname: PLAIN_OWNER, rolsuper: false });
    await changeW1(db.owner, "plain");
    await db.client.query("truncate audit_events");
    const outcome = await restoreW1(services, true);
    if (outcome.status !== "done") throw new Error(`restore: ${outcome.status}`);
    expect(outcome.report).toMatchObject({ success: true, dry_run: true, mode: "triggers", error: null });
    expect(outcome.report.warnings).toEqual([WARNING]);
    expect(outcome.warnings).toContain(WARNING);
    // Rolled back, triggers' work included.
    expect(await auditCounts(db.client)).toEqual({});
    expect(await lastRestoreLog(db.client)).toMatchObject({
      dry_run: true,
      details: { mode: "triggers", warnings: [WARNING] },
    });
  });

  it("then restores in triggers mode: the app's triggers fire for the rows it changes", async () => {
    const outcome = await restoreW1(services, false);
    if (outcome.status !== "done") throw new Error(`restore: ${outcome.status}`);
    expect(outcome.report).toMatchObject({
      success: true,
      mode: "triggers",
      warnings: [WARNING],
      error: null,
    });
    const audit = await auditCounts(db.client);
    expect(audit["contacts INSERT"]).toBe(1);
    expect(audit["contacts UPDATE"]).toBe(1);
    expect((await lastRestoreLog(db.client)).details).toMatchObject({
      mode: "triggers",
      warnings: [WARNING],
    });
  });

  it('refuses mode "replica" outright rather than falling back', async () => {
    await expect(
      restoreTenant(services, {
        tenantId: "w1",
        backupDate: BACKUP_DATE,
        dryRun: true,
        mode: "replica",
        deadline: Date.now() + 60_000,
      }),
    ).rejects.toThrow(/permission denied to set parameter "session_replication_role"/);
  });
});
