/**
 * Each file is applied once and recorded (scripts/migrate.ts); an installation migrated before runs were
 * recorded has no record, so its first recorded run applies every file again. So applying everything again
 * must succeed and change nothing (same functions, tables, columns, privileges, policies, bucket), keep the
 * rows already logged, and do so on plain PostgreSQL as on Supabase. The files themselves must be named the
 * way the Supabase CLI expects and sort in the order they have to run.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyMigrations, MIGRATIONS_DIR, migrationFiles } from "../../scripts/migrate.ts";
import type { TestDatabase } from "../support/database.ts";
import { type PlainPostgres, startPlainPostgres } from "../support/plain-postgres.ts";
import { API_ROLES } from "../support/roles.ts";
import { catalogSnapshot, installTinyApp, supabaseLikeDatabase } from "./supabase-setup.ts";

const MIGRATION_NAME = /^\d{14}_[a-z0-9_]+\.sql$/;
const ACME = "00000000-0000-0000-0000-00000000000a";

/** Every row of every table of ours, as text, to prove a re-run kept them. */
async function ourRows(client: pg.ClientBase): Promise<Record<string, string[]>> {
  const tables = await client.query<{ name: string }>(`
    select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' and c.relkind in ('r', 'p')
      and (c.relname = 'backup_logs' or c.relname like 'tenant\\_backup\\_%')
    order by 1`);
  const rows: Record<string, string[]> = {};
  for (const { name } of tables.rows) {
    const result = await client.query<{ row: string }>(
      `select to_jsonb(t)::text as row from public.${name} t order by 1`,
    );
    rows[name] = result.rows.map((r) => r.row);
  }
  return rows;
}

/** What an installation in use holds: log rows, a run, a lease and a plan. */
async function useTheInstallation(client: pg.ClientBase): Promise<void> {
  await client.query(`
    insert into public.backup_logs (organization_id, backup_type, status, backup_date, records_count, details)
    values ('${ACME}', 'daily_tenant', 'completed', '2026-11-21', 3, '{"note": "kept"}'),
           ('${ACME}', 'manual_tenant', 'failed', '2026-11-22', null, '{}');
    select public.tenant_backup_run_start('b-kept', '${ACME}', '2026-11-22', 'manual', 'manual_tenant');
    select public.tenant_backup_lock_acquire('${ACME}', 'backup', 'idempotent-test', 600);
    select public.tenant_backup_prepare();
  `);
}

/**
 * Applies every migration `times` times more, as on an installation without records (each run forgets the
 * history first), checking after each run that every file ran and nothing moved. First, that a run with
 * the history kept applies nothing.
 */
async function expectReapplyChangesNothing(
  client: pg.ClientBase,
  apply: () => Promise<string[]>,
  times: number,
) {
  expect(await apply()).toEqual([]);
  const snapshot = await catalogSnapshot(client);
  const rows = await ourRows(client);
  expect(snapshot.some((line) => line.startsWith("function "))).toBe(true);
  expect(rows.backup_logs?.length).toBeGreaterThanOrEqual(3);
  for (let run = 0; run < times; run++) {
    await client.query("delete from supabase_migrations.schema_migrations");
    expect(await apply()).toEqual(await migrationFiles());
    expect(await catalogSnapshot(client)).toEqual(snapshot);
    expect(await ourRows(client)).toEqual(rows);
  }
}

describe("the migration files", () => {
  it("are all named <14-digit timestamp>_<snake_case>.sql, each timestamp once", async () => {
    const sql = (await readdir(MIGRATIONS_DIR)).filter((name) => name.toLowerCase().endsWith(".sql"));
    expect(sql.length).toBeGreaterThanOrEqual(6);
    for (const name of sql) expect(name).toMatch(MIGRATION_NAME);
    const stamps = sql.map((name) => name.slice(0, 14));
    expect(new Set(stamps).size).toBe(stamps.length);
    expect(await migrationFiles()).toEqual([...sql].sort());
  });

  it("run in timestamp order, the released ones ending with the grants file that covers them", async () => {
    const files = await migrationFiles();
    const byStamp = [...files].sort((a, b) => Number(a.slice(0, 14)) - Number(b.slice(0, 14)));
    expect(files).toEqual(byStamp);
    // Later files restrict what they create themselves (tests/migrations/history.test.ts checks each).
    expect(files.filter((name) => name.startsWith("20261122")).at(-1)).toMatch(/_tenant_backup_grants\.sql$/);
    expect(files.filter((name) => name.endsWith("_grants.sql"))).toHaveLength(1);
    expect(files).toContain("20261122000005_tenant_backup_storage_bucket.sql");
  });

  it("never use a table, view or function of ours before the file that creates it", async () => {
    // PL/pgSQL bodies are only checked when they run, so a function created before the table it reads would
    // apply without error and fail in production: check the order from the text instead.
    const files = await migrationFiles();
    const texts = await Promise.all(files.map((name) => readFile(join(MIGRATIONS_DIR, name), "utf8")));
    const createdIn = new Map<string, number>();
    const create =
      /create\s+(?:or\s+replace\s+)?(?:unlogged\s+)?(?:table|view|materialized\s+view|function|procedure)\s+(?:if\s+not\s+exists\s+)?public\.(\w+)/gi;
    texts.forEach((text, index) => {
      for (const match of text.matchAll(create)) {
        const name = match[1]?.toLowerCase() ?? "";
        if (!createdIn.has(name)) createdIn.set(name, index);
      }
    });
    expect(createdIn.get("backup_logs")).toBe(0);
    const lateUses: string[] = [];
    texts.forEach((text, index) => {
      for (const match of text.matchAll(/public\.(\w+)/gi)) {
        const name = match[1]?.toLowerCase() ?? "";
        const origin = createdIn.get(name);
        if (origin !== undefined && origin > index)
          lateUses.push(`${files[index]} uses ${name} from ${files[origin]}`);
      }
    });
    expect(lateUses).toEqual([]);
  });
});

describe("on plain PostgreSQL, without Supabase's roles", () => {
  // A server of its own: the shared test server has Supabase's roles (tests/support/plain-postgres.ts).
  let server: PlainPostgres;
  let client: pg.Client;

  beforeAll(async () => {
    server = await startPlainPostgres();
    client = new pg.Client({ connectionString: server.url });
    await client.connect();
    await installTinyApp(client);
  });

  afterAll(async () => {
    await client?.end();
    await server?.stop();
  });

  it("apply, apply nothing more, then apply every file twice more without changing the catalog or the rows", async () => {
    const roles = await client.query("select rolname from pg_roles where rolname = any($1)", [
      [...API_ROLES],
    ]);
    expect(roles.rows).toEqual([]);
    await applyMigrations(client);
    // The bucket migration found no Storage and left it at that.
    const storage = await client.query("select to_regnamespace('storage') as schema");
    expect(storage.rows).toEqual([{ schema: null }]);
    await useTheInstallation(client);
    await expectReapplyChangesNothing(client, () => applyMigrations(client), 2);
  });

  it("leave PUBLIC, and so any other login role, no privilege on our functions, tables or sequences", async () => {
    // A NULL acl means the built-in default, which for a function includes EXECUTE for PUBLIC.
    const { rows } = await client.query(`
      select c.relname as name from pg_class c, aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
      where c.relnamespace = 'public'::regnamespace and a.grantee = 0
        and (c.relname like 'backup\\_logs%' or c.relname like 'tenant\\_backup\\_%')
      union all
      select p.proname from pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
      where p.pronamespace = 'public'::regnamespace and a.grantee = 0 and p.proname like 'tenant\\_backup\\_%'`);
    expect(rows).toEqual([]);
    // And in practice: a role nobody granted anything is refused (on this test's own server).
    await client.query("begin");
    try {
      await client.query("create role tb_stranger nologin; set local role tb_stranger");
      await expect(client.query("select public.tenant_backup_list_tenants()")).rejects.toMatchObject({
        code: "42501",
      });
    } finally {
      await client.query("rollback");
    }
  });
});

describe("on Supabase, with its roles, default privileges and storage schema", () => {
  let db: TestDatabase;

  beforeAll(async () => {
    // Everything as the owner that plays Supabase's `postgres`, here also owning the storage schema.
    db = await supabaseLikeDatabase();
  });

  afterAll(async () => {
    await db?.drop();
  });

  it("apply, apply nothing more, then apply every file twice more without changing the catalog, the grants, the bucket or the rows", async () => {
    const client = db.owner;
    await applyMigrations(client);
    await useTheInstallation(db.client);
    const snapshot = await catalogSnapshot(db.client);
    // The snapshot holds what the grants file decided, so comparing it compares the grants.
    expect(
      snapshot.some((line) => line.startsWith("relation backup_logs ") && line.includes("service_role=")),
    ).toBe(true);
    const ours = snapshot.filter((line) => line.startsWith("function ") || line.startsWith("relation "));
    expect(ours.filter((line) => /\b(anon|authenticated)=/.test(line))).toEqual([]);
    const bucket = snapshot.find((line) => line.startsWith("bucket "));
    expect(JSON.parse(bucket?.slice("bucket ".length) ?? "null")).toMatchObject({
      id: "backups",
      public: false,
      file_size_limit: 52428800,
    });
    await expectReapplyChangesNothing(db.client, () => applyMigrations(client), 2);
  });
});
