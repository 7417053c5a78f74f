/**
 * The cluster roles of a hosted Supabase database, rebuilt on the test server so that the product runs as
 * it does there, never as a superuser (supabase/postgres: roles and default privileges of its init
 * scripts). Roles belong to the whole server: global-setup.ts creates them once for every test file.
 *
 * - OWNER plays Supabase's `postgres`: not a superuser; CREATEDB, CREATEROLE, BYPASSRLS; it owns the
 *   databases, the app's tables and our functions. supautils lets Supabase's `postgres` change
 *   session_replication_role; here `GRANT SET ON PARAMETER` (PostgreSQL 15+) gives OWNER that allowance.
 * - OWNER_WITHOUT_REPLICA is the same role without that grant: a database where replica mode is refused,
 *   so that the fallback ("triggers" mode) is reached for real.
 * - anon, authenticated, service_role: the API roles PostgREST switches to from the key's `role` claim.
 * - AUTHENTICATOR: PostgREST's login role, member of the API roles, with Supabase's 8 s statement_timeout
 *   that the service role (which has none of its own) inherits.
 */
import type pg from "pg";

export const OWNER = "tb_owner";
export const OWNER_WITHOUT_REPLICA = "tb_owner_no_replica";
export const AUTHENTICATOR = "authenticator";
export const API_ROLES = ["anon", "authenticated", "service_role"] as const;
/** Supabase's authenticator timeout; the service role inherits it. */
export const AUTHENTICATOR_STATEMENT_TIMEOUT = "8s";

export type OwnerRole = typeof OWNER | typeof OWNER_WITHOUT_REPLICA;

/** Test-only passwords for the login roles, on a server that listens on 127.0.0.1 only. */
const PASSWORDS: Record<string, string> = {
  [OWNER]: "tb-owner-password",
  [OWNER_WITHOUT_REPLICA]: "tb-owner-no-replica-password",
  [AUTHENTICATOR]: "authenticator-password",
};

/** `adminUrl` (a superuser's URL) with the login of `role` and, optionally, another database. */
export function urlAs(adminUrl: string, role: keyof typeof PASSWORDS, database?: string): string {
  const url = new URL(adminUrl);
  url.username = role;
  url.password = PASSWORDS[role] as string;
  if (database !== undefined) url.pathname = `/${database}`;
  return url.toString();
}

/** Creates a role unless it exists (TEST_DATABASE_URL may name a server that already has them). */
function createRole(name: string, options: string): string {
  return `do $$ begin
    if not exists (select 1 from pg_roles where rolname = '${name}') then create role ${name}; end if;
  end $$;
  alter role ${name} ${options};`;
}

export async function installClusterRoles(admin: pg.ClientBase): Promise<void> {
  const owner = "login nosuperuser createdb createrole bypassrls";
  await admin.query(`
    ${createRole(OWNER, `${owner} password '${PASSWORDS[OWNER]}'`)}
    ${createRole(OWNER_WITHOUT_REPLICA, `${owner} password '${PASSWORDS[OWNER_WITHOUT_REPLICA]}'`)}
    ${createRole("anon", "nologin noinherit")}
    ${createRole("authenticated", "nologin noinherit")}
    ${createRole("service_role", "nologin noinherit bypassrls")}
    ${createRole(AUTHENTICATOR, `login noinherit password '${PASSWORDS[AUTHENTICATOR]}'`)}
    grant anon, authenticated, service_role to ${AUTHENTICATOR};
    alter role ${AUTHENTICATOR} set statement_timeout = '${AUTHENTICATOR_STATEMENT_TIMEOUT}';
    -- Emulates supautils, which lets Supabase's postgres change session_replication_role. It is not
    -- the same check: supautils intercepts only SET / SET LOCAL statements and refuses set_config(),
    -- while this grant allows both forms. Tests on this server prove what replica mode does once the
    -- setting is allowed, not which of the two forms our SQL uses.
    grant set on parameter session_replication_role to ${OWNER};
    revoke set on parameter session_replication_role from ${OWNER_WITHOUT_REPLICA};
  `);
}

/**
 * Run as a database's owner: the schema privileges and default privileges Supabase gives the API roles,
 * so that everything the owner creates in `public` is granted to anon and authenticated until revoked.
 */
export async function installSupabaseDefaults(owner: pg.ClientBase): Promise<void> {
  await owner.query(`
    grant usage on schema public to anon, authenticated, service_role;
    alter default privileges in schema public grant all on tables to anon, authenticated, service_role;
    alter default privileges in schema public grant all on functions to anon, authenticated, service_role;
    alter default privileges in schema public grant all on routines to anon, authenticated, service_role;
    alter default privileges in schema public grant all on sequences to anon, authenticated, service_role;
  `);
}
