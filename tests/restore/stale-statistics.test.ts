/**
 * An apply starts on true statistics. Statistics taken while the tenant had no rows in a table (here:
 * w1's contacts moved out, the table analyzed, the contacts moved back) say it has about none, and the
 * apply's plans could then read a temp table once per tenant row. Before its apply, a restore, and a CSV
 * import, have PostgreSQL analyze the tables they write that autovacuum would analyze next
 * (tenant_backup_analyze_stale), and only those; a dry run keeps the statistics too (they are taken in a
 * call of their own, not in the apply it rolls back). On the direct path and through the Supabase API as
 * the service role. "Would analyze next" follows a table's own autovacuum settings. A table another session
 * holds (as autovacuum does while it vacuums one) is waited for, not skipped; one still held after 10 s is
 * left as it is. Only the columns the apply's plans read are analyzed (keys, indexed columns), and the
 * table stays counted as changed for autovacuum. Autovacuum is off for the app's tables, so that only the
 * restore can analyze them.
 */
import { setTimeout as delay } from "node:timers/promises";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exportCsv, importCsv, MODULE_ENV } from "../modules/module-app.ts";
import type { TestDatabase } from "../support/database.ts";
import { type FakeSupabase, startFakeSupabase } from "../support/fake-supabase.ts";
import { createTestServices, type TestServices } from "../support/services.ts";
import {
  APP_TABLES,
  BACKUP_DATE,
  backup,
  createAppDatabase,
  moveContacts,
  restore,
  workspaceSnapshot,
} from "./app.ts";

const body = { organization_id: "w1", backup_date: BACKUP_DATE, dry_run: true };
const CONTACTS = { organization_id: "w1", module: "crm", table: "contacts" };

let db: TestDatabase;
let supabase: FakeSupabase;
let direct: TestServices;
let api: TestServices;

/** The planner's estimate of w1's contacts, and their true count. */
async function w1Contacts(): Promise<{ estimated: number; actual: number }> {
  const { rows } = await db.client.query(
    "explain (format json) select * from contacts where workspace_id = 'w1'",
  );
  const { rows: count } = await db.client.query(
    "select count(*)::int as n from contacts where workspace_id = 'w1'",
  );
  return { estimated: rows[0]["QUERY PLAN"][0].Plan["Plan Rows"], actual: count[0].n };
}

/** How many times each app table was analyzed by a command (not by autovacuum). */
async function analyzeCounts(): Promise<Record<string, number>> {
  const { rows } = await db.client.query(
    "select relname, analyze_count::int as n from pg_stat_user_tables where relname = any($1) order by relname",
    [[...APP_TABLES]],
  );
  return Object.fromEntries(rows.map((r) => [r.relname, r.n]));
}

/** The changes to contacts PostgreSQL counts since its last whole ANALYZE (what autovacuum looks at). */
async function contactsChangesSinceAnalyze(): Promise<number> {
  await db.owner.query("select pg_stat_force_next_flush()");
  const { rows } = await db.client.query(
    "select n_mod_since_analyze::int as n from pg_stat_user_tables where relname = 'contacts'",
  );
  return rows[0].n;
}

/**
 * Statistics of contacts taken while w1 had none, w1's contacts back since, and that change counted where
 * autovacuum (and the restore) look for it.
 */
async function staleContacts(): Promise<void> {
  await moveContacts(db.owner, "w1", "elsewhere");
  await db.owner.query("analyze contacts");
  await moveContacts(db.owner, "elsewhere", "w1");
  expect(await contactsChangesSinceAnalyze()).toBeGreaterThan(1_000);
  const { estimated, actual } = await w1Contacts();
  expect(actual).toBe(2_040);
  expect(estimated).toBeLessThan(actual / 10);
}

/**
 * Another session holding `table` in the mode autovacuum holds a table in while it vacuums it; answers
 * the release (a second call waits for the first).
 */
async function holdAsAutovacuum(table: string): Promise<() => Promise<void>> {
  const session = new pg.Client({ connectionString: db.url });
  await session.connect();
  await session.query(`begin; lock table ${table} in share update exclusive mode`);
  let released: Promise<void> | null = null;
  return () => {
    released ??= session.query("rollback").then(() => session.end());
    return released;
  };
}

/** One deal changed, and the change counted where autovacuum (and the restore) look for it. */
async function changeOneDeal(): Promise<void> {
  await db.owner.query("update deals set stage = stage where id = (select min(id) from deals)");
  await db.owner.query("select pg_stat_force_next_flush()");
}

/** Runs `fn` while deals' own autovacuum settings say any change makes it stale, then resets them. */
async function withDealsStaleOnAnyChange(fn: () => Promise<void>): Promise<void> {
  await db.owner.query(
    "alter table deals set (autovacuum_analyze_threshold = 0, autovacuum_analyze_scale_factor = 0)",
  );
  try {
    await fn();
  } finally {
    await db.owner.query(
      "alter table deals reset (autovacuum_analyze_threshold, autovacuum_analyze_scale_factor)",
    );
  }
}

/** Whether some session comes to wait for a lock on `table` within `ms` milliseconds. */
async function waitedForWithin(table: string, ms: number): Promise<boolean> {
  for (const until = Date.now() + ms; Date.now() < until; await delay(20)) {
    const { rows } = await db.client.query(
      "select 1 from pg_locks l join pg_class c on c.oid = l.relation where c.relname = $1 and not l.granted",
      [table],
    );
    if (rows.length > 0) return true;
  }
  return false;
}

/** Every app table's writes counted, then analyzed: their statistics current. */
async function currentStatistics(): Promise<void> {
  await db.owner.query("select pg_stat_force_next_flush()");
  await db.owner.query(`analyze ${APP_TABLES.join(", ")}`);
}

beforeAll(async () => {
  db = await createAppDatabase();
  for (const table of APP_TABLES) {
    await db.owner.query(`alter table ${table} set (autovacuum_enabled = false)`);
  }
  // w1 large enough that moving its contacts crosses autovacuum's threshold (50 + 10 % of the rows).
  await db.owner.query(
    `insert into contacts (workspace_id, first_name, last_name, email)
     select 'w1', 'More' || i, 'Contact', 'w1-more-' || i || '@example.com' from generate_series(1, 2000) i`,
  );
  await currentStatistics();
  direct = await createTestServices(db.url, MODULE_ENV);
  await backup(direct, "w1");
  supabase = await startFakeSupabase(db, "https://statistics-project.supabase.co");
  api = await createTestServices(db.url, { ...MODULE_ENV, ...supabase.env, BACKUP_DIR: direct.backupDir });
  expect(api.db.kind).toBe("supabase");
});

afterAll(async () => {
  await supabase?.close();
  await direct?.cleanup();
  await api?.cleanup();
  await db?.drop();
});

describe("an apply on statistics that say the tenant has no rows", () => {
  const applies = {
    "a dry-run restore": (services: TestServices) => restore(services, body),
    "a dry-run CSV import of the tenant's contacts": async (services: TestServices) =>
      importCsv(services, { ...CONTACTS, dry_run: "true" }, (await exportCsv(direct, CONTACTS)).text()),
  };
  for (const [name, apply] of Object.entries(applies)) {
    for (const path of ["direct", "api"] as const) {
      it(`${name} analyzes the stale table first and only it, and keeps the statistics (${path})`, async () => {
        await staleContacts();
        const before = await analyzeCounts();
        const w1 = await workspaceSnapshot(db.client, "= 'w1'");

        const answer = await apply(path === "direct" ? direct : api);
        expect(answer.status, JSON.stringify(answer.body)).toBe(200);
        expect(answer.body.success).toBe(true);

        const { estimated, actual } = await w1Contacts();
        expect(estimated).toBeGreaterThan(actual / 2);
        expect(estimated).toBeLessThan(actual * 2);
        expect(await analyzeCounts()).toEqual({ ...before, contacts: (before.contacts as number) + 1 });
        expect(await workspaceSnapshot(db.client, "= 'w1'")).toEqual(w1);
      });
    }
  }

  it("a restore analyzes the columns its plans read, not the others, and leaves the table to autovacuum", async () => {
    await staleContacts();
    // last_name is in no key or index: if it were analyzed, its statistics would say most contacts are
    // called Renamed.
    await db.owner.query(
      "create temp table saved_names as select id, last_name from contacts where workspace_id = 'w1'",
    );
    await db.owner.query("update contacts set last_name = 'Renamed' where workspace_id = 'w1'");
    await db.owner.query("select pg_stat_force_next_flush()");
    const lastNames = async (): Promise<string[]> => {
      const { rows } = await db.client.query(
        "select most_common_vals::text::text[] as v from pg_stats where tablename = 'contacts' and attname = 'last_name'",
      );
      return rows[0]?.v ?? [];
    };
    try {
      const before = await analyzeCounts();
      const answer = await restore(direct, body);
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      expect(await analyzeCounts()).toEqual({ ...before, contacts: (before.contacts as number) + 1 });
      // The tenant key was analyzed, last_name was not, and PostgreSQL still counts the table's changes.
      const { estimated, actual } = await w1Contacts();
      expect(estimated).toBeGreaterThan(actual / 2);
      expect(await lastNames()).not.toContain("Renamed");
      expect(await contactsChangesSinceAnalyze()).toBeGreaterThan(1_000);
      // A whole ANALYZE, as autovacuum's, sees them.
      await db.owner.query("analyze contacts");
      expect(await lastNames()).toContain("Renamed");
    } finally {
      await db.owner.query(
        "update contacts c set last_name = s.last_name from saved_names s where s.id = c.id; drop table saved_names",
      );
    }
  });

  it("a dry-run restore waits for a stale table another session holds, and analyzes it once let go", async () => {
    await staleContacts();
    const before = await analyzeCounts();
    const release = await holdAsAutovacuum("contacts");
    try {
      const answer = restore(direct, body);
      // Its ANALYZE waits for the lock (skipping the table would leave the statistics of no contacts).
      expect(await waitedForWithin("contacts", 20_000)).toBe(true);
      await release();
      const done = await answer;
      expect(done.status, JSON.stringify(done.body)).toBe(200);
      expect(done.body.success).toBe(true);
    } finally {
      await release();
    }
    const { estimated, actual } = await w1Contacts();
    expect(estimated).toBeGreaterThan(actual / 2);
    expect(await analyzeCounts()).toEqual({ ...before, contacts: (before.contacts as number) + 1 });
  });

  it("a stale table still held after 10 s is left as it is, and the other stale tables analyzed", async () => {
    await staleContacts();
    const release = await holdAsAutovacuum("contacts");
    await withDealsStaleOnAnyChange(async () => {
      await changeOneDeal();
      const before = await analyzeCounts();
      const { plan_id } = await direct.db.catalog();
      const started = Date.now();
      const { rows } = await db.client.query("select public.tenant_backup_analyze_stale($1, $2) as done", [
        plan_id,
        JSON.stringify(["contacts", "deals"]),
      ]);
      expect(rows[0].done).toEqual(["deals"]);
      expect(Date.now() - started).toBeGreaterThanOrEqual(9_000);
      expect(await analyzeCounts()).toEqual({ ...before, deals: (before.deals as number) + 1 });
    }).finally(release);
  });

  it("a restore does not analyze a table whose statistics are current", async () => {
    await currentStatistics();
    const before = await analyzeCounts();
    const answer = await restore(direct, body);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(await analyzeCounts()).toEqual(before);
  });

  it("a restore follows a table's own autovacuum settings: one changed deal is enough where they say so", async () => {
    await currentStatistics();
    // Under the default threshold (50 rows + 10 %): left alone.
    await changeOneDeal();
    const before = await analyzeCounts();
    expect((await restore(direct, body)).status).toBe(200);
    expect(await analyzeCounts()).toEqual(before);
    // The table's own threshold of no rows and no share: analyzed.
    await withDealsStaleOnAnyChange(async () => {
      await changeOneDeal();
      const counts = await analyzeCounts();
      expect((await restore(direct, body)).status).toBe(200);
      expect(await analyzeCounts()).toEqual({ ...counts, deals: (counts.deals as number) + 1 });
    });
  });
});
