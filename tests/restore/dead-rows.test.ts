/**
 * A restore right after its tenant was emptied writes among the dead rows of that delete. Over a direct
 * connection, before its apply, it vacuums the tables it writes whose dead rows autovacuum would clear next
 * (tenant_backup_vacuum_due), and only those; through the Supabase API, which cannot run VACUUM, it asks
 * nothing. The restore is exact either way, and also when VACUUM fails. Autovacuum is off for the app's
 * tables, so that only the restore can vacuum them.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { DatabaseError } from "../../lib/db/port.ts";
import type { TestDatabase } from "../support/database.ts";
import { type FakeSupabase, startFakeSupabase } from "../support/fake-supabase.ts";
import { createTestServices, type TestServices } from "../support/services.ts";
import {
  APP_ENV,
  APP_TABLES,
  BACKUP_DATE,
  backup,
  createAppDatabase,
  restore,
  workspaceSnapshot,
} from "./app.ts";

const body = { organization_id: "w1", backup_date: BACKUP_DATE, dry_run: false };

let db: TestDatabase;
let supabase: FakeSupabase;
let direct: TestServices;
let api: TestServices;
let original: Awaited<ReturnType<typeof workspaceSnapshot>>;

/** How many times each app table was vacuumed by a command (not by autovacuum). */
async function vacuumCounts(): Promise<Record<string, number>> {
  const { rows } = await db.client.query(
    "select relname, vacuum_count::int as n from pg_stat_user_tables where relname = any($1) order by relname",
    [[...APP_TABLES]],
  );
  return Object.fromEntries(rows.map((r) => [r.relname, r.n]));
}

async function deadContacts(): Promise<number> {
  const { rows } = await db.client.query(
    "select n_dead_tup::int as n from pg_stat_user_tables where relname = 'contacts'",
  );
  return rows[0].n;
}

/** w1's rows all deleted, and the deletes counted where autovacuum (and the restore) look for them. */
async function emptyW1(): Promise<void> {
  await db.owner.query(`begin;
    delete from deal_notes where deal_id in (select id from deals where workspace_id = 'w1');
    delete from deals where workspace_id = 'w1';
    delete from contacts where workspace_id = 'w1';
    delete from workspaces where id = 'w1';
    commit`);
  await db.owner.query("select pg_stat_force_next_flush()");
  expect(await deadContacts()).toBeGreaterThan(2_000);
}

beforeAll(async () => {
  db = await createAppDatabase();
  for (const table of APP_TABLES) {
    await db.owner.query(`alter table ${table} set (autovacuum_enabled = false)`);
  }
  // w1 large enough that emptying it crosses autovacuum's threshold in contacts (50 + 20 % of the rows).
  await db.owner.query(
    `insert into contacts (workspace_id, first_name, last_name, email)
     select 'w1', 'More' || i, 'Contact', 'w1-more-' || i || '@example.com' from generate_series(1, 2000) i`,
  );
  await db.owner.query(`vacuum analyze ${APP_TABLES.join(", ")}`);
  direct = await createTestServices(db.url, APP_ENV);
  await backup(direct, "w1");
  original = await workspaceSnapshot(db.client, "= 'w1'");
  supabase = await startFakeSupabase(db, "https://dead-rows-project.supabase.co");
  api = await createTestServices(db.url, { ...APP_ENV, ...supabase.env, BACKUP_DIR: direct.backupDir });
  expect(api.db.kind).toBe("supabase");
});

afterAll(async () => {
  await supabase?.close();
  await direct?.cleanup();
  await api?.cleanup();
  await db?.drop();
});

describe("a restore into a tenant emptied moments before", () => {
  it("vacuums the tables whose dead rows autovacuum would clear next, only those, then restores exactly (direct)", async () => {
    await emptyW1();
    const before = await vacuumCounts();
    const answer = await restore(direct, body);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body.success).toBe(true);
    // contacts lost over 2,000 rows; workspaces one, deals and deal_notes fewer than the threshold.
    expect(await vacuumCounts()).toEqual({ ...before, contacts: (before.contacts as number) + 1 });
    await db.owner.query("select pg_stat_force_next_flush()");
    expect(await deadContacts()).toBeLessThan(100);
    expect(await workspaceSnapshot(db.client, "= 'w1'")).toEqual(original);
  });

  it("vacuums nothing when no table it writes has that many dead rows", async () => {
    const before = await vacuumCounts();
    const answer = await restore(direct, body);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(await vacuumCounts()).toEqual(before);
    expect(await workspaceSnapshot(db.client, "= 'w1'")).toEqual(original);
  });

  it("restores exactly when VACUUM fails, and says so in the log", async () => {
    await emptyW1();
    const failing = vi
      .spyOn(direct.db, "vacuumDue")
      .mockRejectedValue(new DatabaseError("failed", "permission denied", "42501"));
    const warned = vi.spyOn(direct.log, "warn");
    try {
      const answer = await restore(direct, body);
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      expect(answer.body.success).toBe(true);
      expect(failing).toHaveBeenCalledTimes(1);
      expect(warned.mock.calls.map((c) => c[1])).toContain("could not vacuum the tables' dead rows");
    } finally {
      failing.mockRestore();
      warned.mockRestore();
    }
    expect(await workspaceSnapshot(db.client, "= 'w1'")).toEqual(original);
  });

  it("through the Supabase API, vacuums nothing and asks nothing, and restores exactly", async () => {
    await emptyW1();
    const before = await vacuumCounts();
    supabase.fake.reset();
    const answer = await restore(api, body);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body.success).toBe(true);
    expect(await vacuumCounts()).toEqual(before);
    const asked = supabase.fake.calls.map((c) => c.fn);
    expect(asked).toContain("tenant_backup_apply_live");
    expect(asked).not.toContain("tenant_backup_vacuum_due");
    expect(await workspaceSnapshot(db.client, "= 'w1'")).toEqual(original);
  });
});
