/**
 * The operations migration: applies again without error (an installation migrated before runs were
 * recorded re-runs every released file), and what it installs is closed to everyone but the owner and the service role, like the rest of the project's SQL.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyMigrations } from "../../scripts/migrate.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase("migrated");
});

afterAll(async () => {
  await db?.drop();
});

const FUNCTIONS = [
  "tenant_backup_rate_limit_take",
  "tenant_backup_rate_limit_release",
  "tenant_backup_user_roles",
  "tenant_backup_newest_completed",
];

describe("migration 20261122000007_tenant_backup_operations", () => {
  it("is recorded as applied, and applies again without error once its record is gone", async () => {
    const recorded = await db.client.query(
      "select name from supabase_migrations.schema_migrations where version = '20261122000007'",
    );
    expect(recorded.rows).toEqual([{ name: "tenant_backup_operations" }]);
    await db.client.query(
      "delete from supabase_migrations.schema_migrations where version = '20261122000007'",
    );
    expect(await applyMigrations(db.client)).toEqual(["20261122000007_tenant_backup_operations.sql"]);
  });

  it("revokes its functions from PUBLIC and puts its table under row level security", async () => {
    const { rows } = await db.client.query(
      "select proname, proacl::text as acl from pg_proc where proname = any($1) and pronamespace = 'public'::regnamespace",
      [FUNCTIONS],
    );
    expect(rows.map((r) => r.proname).sort()).toEqual([...FUNCTIONS].sort());
    for (const row of rows) {
      // An ACL entry for PUBLIC has an empty grantee: "=X/owner".
      expect(row.acl).not.toBeNull();
      expect(row.acl).not.toMatch(/[{,]=X/);
    }
    const table = await db.client.query(
      "select relrowsecurity, relacl::text as acl from pg_class where oid = 'public.tenant_backup_rate_limits'::regclass",
    );
    expect(table.rows[0].relrowsecurity).toBe(true);
  });
});
