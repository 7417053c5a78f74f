/**
 * What a Supabase database looks like to our migrations, rebuilt on the test server: the API roles and the
 * owner that plays `postgres` exist for the whole server (tests/support/roles.ts); per database come the
 * default privileges that grant everything new in `public` to them (installSupabaseDefaults) and, here, a
 * minimal `storage` schema and the smallest tenant app.
 */
import type pg from "pg";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { installSupabaseDefaults } from "../support/roles.ts";

/** The roles a browser can act as: they must reach nothing we install. */
export const CLIENT_ROLES = ["anon", "authenticated"] as const;

const TRANSACTION_TO_SAVEPOINT: Record<string, string> = {
  begin: "savepoint apply_migration",
  commit: "release savepoint apply_migration",
  rollback: "rollback to savepoint apply_migration",
};

/**
 * The same client, with applyMigrations' own transaction control turned into a savepoint of ours: a test
 * runs the migrations inside a transaction it rolls back, to try several installs on one database.
 */
export function inTransaction(client: pg.ClientBase): pg.ClientBase {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  return new Proxy(client, {
    get(target, property) {
      if (property === "query") {
        return (text: unknown, ...rest: unknown[]) =>
          query(typeof text === "string" ? (TRANSACTION_TO_SAVEPOINT[text] ?? text) : text, ...rest);
      }
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/**
 * The part of Supabase Storage's schema that the bucket migration touches: buckets and objects, RLS on both
 * with no policy, and the table privileges Supabase gives the API roles (RLS is what keeps them out).
 */
export async function installFakeStorage(client: pg.ClientBase): Promise<void> {
  await client.query(`
    create schema storage;
    create table storage.buckets (
      id text primary key,
      name text not null unique,
      owner uuid,
      created_at timestamptz default now(),
      updated_at timestamptz default now(),
      public boolean default false,
      avif_autodetection boolean default false,
      file_size_limit bigint,
      allowed_mime_types text[],
      owner_id text
    );
    create table storage.objects (
      id uuid primary key default gen_random_uuid(),
      bucket_id text references storage.buckets (id),
      name text,
      owner uuid,
      created_at timestamptz default now(),
      updated_at timestamptz default now(),
      last_accessed_at timestamptz default now(),
      metadata jsonb,
      version text,
      owner_id text
    );
    alter table storage.buckets enable row level security;
    alter table storage.objects enable row level security;
    grant usage on schema storage to anon, authenticated, service_role;
    grant all on storage.buckets, storage.objects to anon, authenticated, service_role;
  `);
}

/** The smallest tenant app: a root table and one child reached through the tenant key. */
export async function installTinyApp(client: pg.ClientBase): Promise<void> {
  await client.query(`
    create table public.organizations (id uuid primary key, name text not null);
    create table public.projects (
      id bigint generated always as identity primary key,
      organization_id uuid not null references public.organizations (id),
      title text not null
    );
    insert into public.organizations values
      ('00000000-0000-0000-0000-00000000000a', 'Acme'), ('00000000-0000-0000-0000-00000000000b', 'Globex');
    insert into public.projects (organization_id, title) values
      ('00000000-0000-0000-0000-00000000000a', 'one'), ('00000000-0000-0000-0000-00000000000a', 'two'),
      ('00000000-0000-0000-0000-00000000000b', 'three');
  `);
}

/**
 * Everything the migrations decide, one line per fact, sorted: our functions (signature, settings, body,
 * privileges), our relations (kind, RLS, privileges), their columns, constraints, indexes and sequences, the
 * privileges on schema public, Storage buckets and policies. Two equal snapshots mean nothing changed.
 */
export async function catalogSnapshot(client: pg.ClientBase): Promise<string[]> {
  // aclitems sorted, so that the same privileges granted in another order still compare equal.
  const acl = (column: string) =>
    `coalesce((select string_agg(x::text, ' ' order by x::text) from unnest(${column}) x), 'default')`;
  const { rows } = await client.query<{ line: string }>(`
    with ours as (
      select c.oid, c.relname, c.relkind, c.relrowsecurity, c.relforcerowsecurity, c.relacl
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and (c.relname = 'backup_logs' or c.relname like 'tenant\\_backup\\_%')
    )
    select format('function %s returns %s volatile=%s definer=%s config=%s body=%s acl=%s',
                  p.oid::regprocedure, p.prorettype::regtype, p.provolatile, p.prosecdef, p.proconfig,
                  md5(p.prosrc), ${acl("p.proacl")}) as line
    from pg_proc p join pg_namespace n on n.oid = p.pronamespace
    where n.nspname = 'public' and p.proname like 'tenant\\_backup\\_%'
    union all
    select format('relation %s kind=%s rls=%s force=%s acl=%s', o.relname, o.relkind, o.relrowsecurity,
                  o.relforcerowsecurity, ${acl("o.relacl")})
    from ours o
    union all
    select format('column %s.%s %s not_null=%s default=%s identity=%s acl=%s', o.relname, a.attname,
                  format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid),
                  a.attidentity, ${acl("a.attacl")})
    from ours o join pg_attribute a on a.attrelid = o.oid and a.attnum > 0 and not a.attisdropped
    left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
    union all
    select format('constraint %s.%s %s', o.relname, con.conname, pg_get_constraintdef(con.oid))
    from ours o join pg_constraint con on con.conrelid = o.oid
    union all
    select format('index %s', pg_get_indexdef(i.indexrelid))
    from ours o join pg_index i on i.indrelid = o.oid
    union all
    select format('schema public acl=%s', ${acl("n.nspacl")})
    from pg_namespace n where n.nspname = 'public'
    union all
    select format('policy %s.%s %s %s roles=%s using=%s check=%s', p.schemaname, p.tablename, p.policyname,
                  p.permissive, p.roles, p.qual, p.with_check)
    from pg_policies p
    where p.schemaname in ('public', 'storage')
  `);
  const lines = rows.map((r) => r.line);
  // A query of its own: on plain PostgreSQL there is no storage.buckets to name.
  const storage = await client.query<{ present: boolean }>(
    "select to_regclass('storage.buckets') is not null as present",
  );
  if (storage.rows[0]?.present) {
    const buckets = await client.query<{ line: string }>(
      "select format('bucket %s', to_jsonb(b) - 'created_at' - 'updated_at') as line from storage.buckets b",
    );
    lines.push(...buckets.rows.map((r) => r.line));
  }
  return lines.sort();
}

/**
 * Every privilege that anon, authenticated or PUBLIC (which every role belongs to) holds on our functions,
 * tables, views and sequences, one line each ("anon EXECUTE function tenant_backup_x(text)"). A NULL acl is
 * the built-in default, which for a function grants PUBLIC EXECUTE. Empty: no browser reaches anything of
 * ours.
 */
export async function clientPrivileges(client: pg.ClientBase): Promise<string[]> {
  const { rows } = await client.query<{ line: string }>(
    `
    with grantees as (
      select 0::oid as oid, 'PUBLIC' as name
      union all
      select oid, rolname from pg_roles where rolname = any($1)
    ), objects as (
      select 'function ' || p.oid::regprocedure::text as object, coalesce(p.proacl, acldefault('f', p.proowner)) as acl
      from pg_proc p where p.pronamespace = 'public'::regnamespace and p.proname like 'tenant\\_backup\\_%'
      union all
      select case c.relkind when 'S' then 'sequence ' else 'relation ' end || c.relname,
             coalesce(c.relacl, acldefault((case c.relkind when 'S' then 's' else 'r' end)::"char", c.relowner))
      from pg_class c
      where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p', 'v', 'm', 'f', 'S')
        and (c.relname like 'backup\\_logs%' or c.relname like 'tenant\\_backup\\_%')
    )
    select format('%s %s %s', g.name, a.privilege_type, o.object) as line
    from objects o, aclexplode(o.acl) a join grantees g on g.oid = a.grantee
    order by 1`,
    [[...CLIENT_ROLES]],
  );
  return rows.map((r) => r.line);
}

/**
 * An empty test database set up as Supabase's by its owner (the role playing `postgres`): the default
 * privileges, a Storage schema (the owner's here, so the migration may add its policy) and the tiny app.
 */
export async function supabaseLikeDatabase(): Promise<TestDatabase> {
  const db = await createTestDatabase("empty");
  await installSupabaseDefaults(db.owner);
  await installFakeStorage(db.owner);
  await installTinyApp(db.owner);
  return db;
}
