/**
 * On a database set up the way Supabase sets one up (API roles, default privileges that hand everything new
 * in `public` to anon and authenticated, a `storage` schema), our migrations leave nothing of ours within a
 * browser's reach: anon and authenticated can neither run a tenant_backup function nor touch our tables,
 * sequences or backup files, while the service role can do all of it.
 *
 * The checks enumerate our objects from the catalog, so a function or table added later is covered without
 * touching this file; each enumeration is also checked to hold what we expect, so that none can pass empty.
 */
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyMigrations } from "../../scripts/migrate.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { installSupabaseDefaults } from "../support/roles.ts";
import { CLIENT_ROLES, installFakeStorage, installTinyApp } from "./supabase-setup.ts";

const ACME = "00000000-0000-0000-0000-00000000000a";
const BUCKET_50_MB = "52428800";

/** The database of the describe block running; each block sets up one of its own. */
let db: TestDatabase;

/** Runs `work` as `role` in a transaction, then undoes whatever it did and returns to the superuser. */
async function as<T>(role: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  await db.client.query("begin");
  try {
    await db.client.query(`set local role ${role}`);
    return await work(db.client);
  } finally {
    await db.client.query("rollback");
  }
}

/** The SQLSTATE `work` fails with as `role`, or "ok". */
async function sqlstateAs(role: string, sql: string): Promise<string> {
  return as(role, async (client) => {
    try {
      await client.query(sql);
      return "ok";
    } catch (err) {
      return (err as { code?: string }).code ?? String(err);
    }
  });
}

interface OurFunction {
  signature: string;
  /** A call with NULL for every argument: the EXECUTE check comes before the body sees them. */
  call: string;
}

async function ourFunctions(): Promise<OurFunction[]> {
  const { rows } = await db.client.query<OurFunction>(`
    select p.oid::regprocedure::text as signature,
           format('%s public.%I(%s)', case p.prokind when 'p' then 'call' else 'select' end, p.proname,
                  coalesce(string_agg('null::' || format_type(a.type, null), ', ' order by a.n), '')) as call
    from pg_proc p
    join pg_namespace ns on ns.oid = p.pronamespace
    left join lateral unnest(p.proargtypes::oid[]) with ordinality as a(type, n) on true
    where ns.nspname = 'public' and p.proname like 'tenant\\_backup\\_%'
    group by p.oid, p.proname, p.prokind
    order by 1`);
  return rows;
}

/** Our tables and views: backup_logs and everything named tenant_backup_*. */
async function ourRelations(): Promise<string[]> {
  const { rows } = await db.client.query<{ name: string }>(`
    select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' and c.relkind in ('r', 'p', 'v', 'm', 'f')
      and (c.relname = 'backup_logs' or c.relname like 'tenant\\_backup\\_%')
    order by 1`);
  return rows.map((r) => r.name);
}

/** The sequences behind our tables' identity and serial columns. */
async function ourSequences(): Promise<string[]> {
  const { rows } = await db.client.query<{ name: string }>(`
    select distinct s.relname as name
    from pg_class s
    join pg_depend d on d.classid = 'pg_class'::regclass and d.objid = s.oid and d.deptype in ('a', 'i')
    join pg_class t on t.oid = d.refobjid
    join pg_namespace n on n.oid = t.relnamespace
    where s.relkind = 'S' and n.nspname = 'public'
      and (t.relname = 'backup_logs' or t.relname like 'tenant\\_backup\\_%')
    order by 1`);
  return rows.map((r) => r.name);
}

async function check(sql: string, params: unknown[]): Promise<boolean> {
  const { rows } = await db.client.query<{ ok: boolean }>(`select (${sql}) as ok`, params);
  return rows[0]?.ok === true;
}

describe("on a Supabase database", () => {
  beforeAll(async () => {
    // Everything as the owner that plays Supabase's `postgres`, which here also owns the storage schema
    // (so the migration may add its policy; the block below is the hosted case where it may not).
    db = await createTestDatabase("empty");
    await installSupabaseDefaults(db.owner);
    await installFakeStorage(db.owner);
    // An app's own Storage policies, of the careless kind Supabase projects often have: any signed-in user
    // may read every object, anyone may upload avatars.
    await db.owner.query(`
      insert into storage.buckets (id, name, public) values ('avatars', 'avatars', true);
      create policy "signed-in users read everything" on storage.objects for select to authenticated using (true);
      create policy "anyone uploads avatars" on storage.objects for insert to anon, authenticated
        with check (bucket_id = 'avatars');
    `);
    await installTinyApp(db.owner);
    // What a later migration, numbered before the grants file, might add: a table with an identity column,
    // a view, a function and a procedure. The grants file promises to cover them without being edited.
    await db.owner.query(`
      create table public.tenant_backup_later (id bigint generated always as identity primary key, note text);
      create view public.tenant_backup_later_view as select 1 as one;
      create function public.tenant_backup_later_fn(p_n integer) returns integer language sql as 'select p_n';
      create procedure public.tenant_backup_later_proc() language sql as 'select 1';
    `);
    await applyMigrations(db.owner);
  });

  afterAll(async () => {
    await db?.drop();
  });

  it("is a setup in which anon would reach what nobody revokes, so the checks below are not vacuous", async () => {
    // Supabase's default privileges at work on the app's own tables and on a function of no concern to us.
    await db.owner.query("create function public.not_ours() returns integer language sql as 'select 1'");
    expect(await check("has_table_privilege('anon', 'public.organizations', 'select')", [])).toBe(true);
    expect(await check("has_function_privilege('anon', 'public.not_ours()', 'execute')", [])).toBe(true);
    expect(await sqlstateAs("anon", "select count(*) from public.organizations")).toBe("ok");
    await db.owner.query("drop function public.not_ours()");
  });

  it("enumerates our functions, tables and sequences, with the ones we know among them", async () => {
    // regprocedure leaves out the schema when it is on the search_path, as public is.
    const functions = (await ourFunctions()).map((f) =>
      f.signature.replace(/^public\./, "").replace(/\(.*$/, ""),
    );
    for (const name of [
      "tenant_backup_catalog",
      "tenant_backup_prepare",
      "tenant_backup_list_tenants",
      "tenant_backup_export_page",
      "tenant_backup_log",
      "tenant_backup_lock_acquire",
      "tenant_backup_later_fn",
      "tenant_backup_later_proc",
    ]) {
      expect(functions).toContain(name);
    }
    const relations = await ourRelations();
    for (const name of [
      "backup_logs",
      "tenant_backup_runs",
      "tenant_backup_locks",
      "tenant_backup_plans",
      "tenant_backup_later",
      "tenant_backup_later_view",
    ]) {
      expect(relations).toContain(name);
    }
    expect(relations).not.toContain("organizations");
    expect(await ourSequences()).toEqual([
      "backup_logs_id_seq",
      "tenant_backup_alert_deliveries_id_seq",
      "tenant_backup_later_id_seq",
      "tenant_backup_verifications_id_seq",
    ]);
  });

  it("gives anon and authenticated EXECUTE on no tenant_backup function, and PUBLIC none either", async () => {
    const functions = await ourFunctions();
    expect(functions.length).toBeGreaterThanOrEqual(15);
    for (const role of CLIENT_ROLES) {
      for (const fn of functions) {
        expect(
          await check("has_function_privilege($1, $2, 'execute')", [role, fn.signature]),
          `${role} ${fn.signature}`,
        ).toBe(false);
      }
    }
    // grantee 0 is PUBLIC, which every role present and future belongs to. A NULL acl is the built-in
    // default, which grants PUBLIC EXECUTE.
    const { rows } = await db.client.query(`
      select p.oid::regprocedure::text as signature
      from pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
      where p.pronamespace = 'public'::regnamespace and p.proname like 'tenant\\_backup\\_%' and a.grantee = 0`);
    expect(rows).toEqual([]);
  });

  it("refuses every tenant_backup function to anon and authenticated with permission denied", async () => {
    for (const role of CLIENT_ROLES) {
      for (const fn of await ourFunctions()) {
        expect(await sqlstateAs(role, fn.call), `${role}: ${fn.call}`).toBe("42501");
      }
    }
  });

  it("gives anon and authenticated no privilege on any of our tables or columns", async () => {
    const relations = await ourRelations();
    for (const role of CLIENT_ROLES) {
      for (const relation of relations) {
        for (const privilege of [
          "select",
          "insert",
          "update",
          "delete",
          "truncate",
          "references",
          "trigger",
        ]) {
          expect(
            await check("has_table_privilege($1, $2, $3)", [role, `public.${relation}`, privilege]),
            `${role} ${privilege} ${relation}`,
          ).toBe(false);
        }
        expect(
          await check("has_any_column_privilege($1, $2, 'select, insert, update, references')", [
            role,
            `public.${relation}`,
          ]),
          `${role} columns of ${relation}`,
        ).toBe(false);
      }
    }
  });

  it("refuses anon and authenticated reading or writing backup_logs and every tenant_backup table", async () => {
    for (const role of CLIENT_ROLES) {
      for (const relation of await ourRelations()) {
        expect(await sqlstateAs(role, `select count(*) from public.${relation}`), `${role} ${relation}`).toBe(
          "42501",
        );
      }
      expect(
        await sqlstateAs(
          role,
          "insert into public.backup_logs (backup_type, status) values ('manual', 'completed')",
        ),
      ).toBe("42501");
      expect(await sqlstateAs(role, "update public.backup_logs set status = 'failed'")).toBe("42501");
      expect(await sqlstateAs(role, "delete from public.backup_logs")).toBe("42501");
      expect(await sqlstateAs(role, "truncate public.backup_logs")).toBe("42501");
      expect(
        await sqlstateAs(
          role,
          `insert into public.tenant_backup_locks values ('${ACME}', 'backup', 'me', now(), now())`,
        ),
      ).toBe("42501");
    }
  });

  it("gives anon and authenticated no use of our sequences", async () => {
    for (const role of CLIENT_ROLES) {
      for (const sequence of await ourSequences()) {
        for (const privilege of ["usage", "select", "update"]) {
          expect(
            await check("has_sequence_privilege($1, $2, $3)", [role, `public.${sequence}`, privilege]),
            `${role} ${privilege} ${sequence}`,
          ).toBe(false);
        }
      }
      expect(await sqlstateAs(role, "select nextval('public.backup_logs_id_seq')")).toBe("42501");
      expect(await sqlstateAs(role, "select setval('public.backup_logs_id_seq', 1)")).toBe("42501");
    }
  });

  it("lets the service role execute every function and read and write every table and sequence", async () => {
    for (const fn of await ourFunctions()) {
      expect(
        await check("has_function_privilege('service_role', $1, 'execute')", [fn.signature]),
        fn.signature,
      ).toBe(true);
    }
    for (const relation of await ourRelations()) {
      for (const privilege of ["select", "insert", "update", "delete"]) {
        expect(
          await check("has_table_privilege('service_role', $1, $2)", [`public.${relation}`, privilege]),
          `${privilege} ${relation}`,
        ).toBe(true);
      }
    }
    for (const sequence of await ourSequences()) {
      expect(await check("has_sequence_privilege('service_role', $1, 'usage')", [`public.${sequence}`])).toBe(
        true,
      );
    }
  });

  it("lets the service role back a tenant up through the functions, as the app does over rpc()", async () => {
    await as("service_role", async (client) => {
      const one = async (sql: string, params: unknown[] = []) =>
        (await client.query<{ r: unknown }>(`select ${sql} as r`, params)).rows[0]?.r;

      const tenants = await one("public.tenant_backup_list_tenants()");
      expect(tenants).toEqual([
        { id: ACME, name: "Acme" },
        { id: "00000000-0000-0000-0000-00000000000b", name: "Globex" },
      ]);
      expect(await one("public.tenant_backup_get_tenant($1)", [ACME])).toEqual({ id: ACME, name: "Acme" });
      const catalog = (await one("public.tenant_backup_catalog()")) as { tables: { name: string }[] };
      expect(catalog.tables.map((t) => t.name)).toEqual(["organizations", "projects"]);

      const plan = (await one("public.tenant_backup_prepare()")) as { plan_id: string };
      expect(plan.plan_id).toMatch(/^[0-9a-f]{32}$/);
      const page = (await one("public.tenant_backup_export_page($1, 'projects', $2)", [
        plan.plan_id,
        ACME,
      ])) as {
        rows: number;
        done: boolean;
      };
      expect(page).toMatchObject({ rows: 2, done: true });

      expect(
        await one("public.tenant_backup_lock_acquire($1, 'backup', 'grants-test', 60)", [ACME]),
      ).toMatchObject({ acquired: true });
      expect(await one("public.tenant_backup_lock_renew($1, 'grants-test', 60)", [ACME])).toBe(true);
      const logId = await one(
        `public.tenant_backup_log('{"organization_id": "${ACME}", "backup_type": "manual_tenant", "status": "completed"}')`,
      );
      expect(Number(logId)).toBeGreaterThan(0);
      expect(
        await one("public.tenant_backup_run_start('b1', $1, '2026-11-22', 'manual', 'manual_tenant')", [
          ACME,
        ]),
      ).toMatchObject({ backup_id: "b1", status: "running" });
      expect(await one(`public.tenant_backup_run_progress('b1', '{"tables": {}}')`)).toBe(true);
      expect(
        await one(
          "public.tenant_backup_run_finish('b1', 'completed', 'x/summary-b1.json', 3, 10, 2, null, null)",
        ),
      ).toMatchObject({ status: "completed" });
      expect(await one("public.tenant_backup_run_get('b1')")).toMatchObject({ status: "completed" });
      expect(await one("public.tenant_backup_runs_on('2026-11-22')")).toHaveLength(1);
      expect(await one("public.tenant_backup_history($1)", [ACME])).toHaveLength(2);
      expect(await one("public.tenant_backup_lock_release($1, 'grants-test')", [ACME])).toBe(true);
    });
  });

  it("lets the service role read and write backup_logs directly, through RLS", async () => {
    await as("service_role", async (client) => {
      const inserted = await client.query(
        "insert into public.backup_logs (backup_type, status) values ('manual_tenant', 'running') returning id",
      );
      const id = inserted.rows[0].id;
      expect(
        (await client.query("update public.backup_logs set status = 'completed' where id = $1", [id]))
          .rowCount,
      ).toBe(1);
      expect((await client.query("select status from public.backup_logs where id = $1", [id])).rows).toEqual([
        { status: "completed" },
      ]);
      expect((await client.query("delete from public.backup_logs where id = $1", [id])).rowCount).toBe(1);
    });
  });

  it("creates the backups bucket, private, with a 50 MB file limit", async () => {
    const { rows } = await db.client.query(
      "select id, name, public, file_size_limit::text from storage.buckets where id = 'backups'",
    );
    expect(rows).toEqual([{ id: "backups", name: "backups", public: false, file_size_limit: BUCKET_50_MB }]);
  });

  it("adds no permissive Storage policy, only a restrictive one that keeps clients out of backups", async () => {
    const { rows } = await db.client.query(`
      select policyname, permissive, roles::text[] as roles, cmd from pg_policies
      where schemaname = 'storage' and tablename = 'objects' order by policyname`);
    expect(rows).toEqual([
      {
        policyname: "anyone uploads avatars",
        permissive: "PERMISSIVE",
        roles: ["anon", "authenticated"],
        cmd: "INSERT",
      },
      {
        policyname: "signed-in users read everything",
        permissive: "PERMISSIVE",
        roles: ["authenticated"],
        cmd: "SELECT",
      },
      {
        policyname: "tenant_backup_clients_never_reach_backups",
        permissive: "RESTRICTIVE",
        roles: ["anon", "authenticated"],
        cmd: "ALL",
      },
    ]);
  });

  it("keeps anon and authenticated away from the objects of the backups bucket, even past a broad policy", async () => {
    await db.client.query(`
      insert into storage.objects (bucket_id, name) values
        ('backups', 'tenant-backups/${ACME}/2026-11-22/summary-b1.json'), ('avatars', 'a.png')`);
    try {
      for (const role of CLIENT_ROLES) {
        await as(role, async (client) => {
          const seen = await client.query("select bucket_id from storage.objects order by bucket_id");
          // authenticated sees the avatar through the app's "read everything" policy, never the backup.
          expect(seen.rows).toEqual(role === "authenticated" ? [{ bucket_id: "avatars" }] : []);
          expect(
            (await client.query("update storage.objects set name = 'x' where bucket_id = 'backups'"))
              .rowCount,
          ).toBe(0);
          expect(
            (await client.query("delete from storage.objects where bucket_id = 'backups'")).rowCount,
          ).toBe(0);
        });
        expect(
          await sqlstateAs(role, "insert into storage.objects (bucket_id, name) values ('backups', 'evil')"),
        ).toBe("42501");
        expect(
          await sqlstateAs(role, "insert into storage.objects (bucket_id, name) values ('avatars', 'b.png')"),
        ).toBe("ok");
      }
      const asService = await as("service_role", (client) =>
        client.query("select name from storage.objects where bucket_id = 'backups'"),
      );
      expect(asService.rows).toHaveLength(1);
    } finally {
      await db.client.query("delete from storage.objects");
    }
  });

  it("makes the bucket private again when its file runs again (an installation migrated before runs were recorded)", async () => {
    await db.client.query(
      "update storage.buckets set public = true, file_size_limit = 1048576 where id = 'backups'",
    );
    await db.client.query(
      "delete from supabase_migrations.schema_migrations where version = '20261122000005'",
    );
    expect(await applyMigrations(db.owner)).toEqual(["20261122000005_tenant_backup_storage_bucket.sql"]);
    const { rows } = await db.client.query(
      "select public, file_size_limit::text from storage.buckets where id = 'backups'",
    );
    // The size limit is the owner's to change; only publicity is put back.
    expect(rows).toEqual([{ public: false, file_size_limit: "1048576" }]);
  });
});

describe("on hosted Supabase, where the migration role owns neither Storage table", () => {
  const warnings: string[] = [];
  const onNotice = (notice: { severity?: string; message?: string }) => {
    if (notice.severity === "WARNING") warnings.push(notice.message ?? "");
  };

  beforeAll(async () => {
    db = await createTestDatabase("empty");
    // Storage belongs to another role (a superuser here, supabase_storage_admin there), which grants the
    // owner playing `postgres` its tables but not the right to create policies on storage.objects.
    await installFakeStorage(db.client);
    await db.client.query(`grant usage on schema storage to ${db.ownerRole};
                           grant all on storage.buckets to ${db.ownerRole}`);
    await installSupabaseDefaults(db.owner);
    await installTinyApp(db.owner);
    db.owner.on("notice", onNotice);
    await applyMigrations(db.owner);
    db.owner.off("notice", onNotice);
  });

  afterAll(async () => {
    await db?.drop();
  });

  it("still creates the private bucket, and says why it could not add the policy", async () => {
    const { rows } = await db.client.query("select public from storage.buckets where id = 'backups'");
    expect(rows).toEqual([{ public: false }]);
    const policies = await db.client.query("select policyname from pg_policies where schemaname = 'storage'");
    expect(policies.rows).toEqual([]);
    expect(warnings.some((w) => w.includes("not allowed to add a policy on storage.objects"))).toBe(true);
  });

  it("leaves clients no access to our functions, tables or the bucket's objects", async () => {
    const functions = await ourFunctions();
    expect(functions.length).toBeGreaterThanOrEqual(15);
    for (const role of CLIENT_ROLES) {
      for (const fn of functions) {
        expect(
          await check("has_function_privilege($1, $2, 'execute')", [role, fn.signature]),
          fn.signature,
        ).toBe(false);
      }
      for (const relation of await ourRelations()) {
        expect(await check("has_table_privilege($1, $2, 'select')", [role, `public.${relation}`])).toBe(
          false,
        );
      }
      expect(await sqlstateAs(role, "select public.tenant_backup_list_tenants()")).toBe("42501");
    }
    await db.client.query("insert into storage.objects (bucket_id, name) values ('backups', 'summary.json')");
    for (const role of CLIENT_ROLES) {
      const seen = await as(role, (client) => client.query("select 1 from storage.objects"));
      expect(seen.rows).toEqual([]);
    }
  });
});
