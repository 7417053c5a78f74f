/**
 * Applies supabase/migrations/*.sql in file-name order over a direct connection, each file once: a file
 * applied is recorded in supabase_migrations.schema_migrations and skipped from then on, so a migration
 * is never edited once released; a change is a new file. `npm run migrate` uses DATABASE_URL.
 *
 * The record is the one the Supabase CLI keeps (`supabase db push`): version = the file name's 14-digit
 * timestamp, name = the rest. An installation may be migrated by either tool, or by both in turn: each
 * skips what the other applied. An installation migrated before files were recorded has no record yet;
 * its first run applies every file again, which the released files (20261122*) allow: each of them is
 * idempotent.
 */
import { readdir, readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import pg from "pg";

export const MIGRATIONS_DIR = fileURLToPath(new URL("../supabase/migrations/", import.meta.url));

export async function migrationFiles(): Promise<string[]> {
  return (await readdir(MIGRATIONS_DIR)).filter((name) => name.endsWith(".sql")).sort();
}

/** "20261122000001_tenant_backup_tables.sql" → version "20261122000001", name "tenant_backup_tables". */
export function migrationVersion(file: string): { version: string; name: string } {
  const match = /^(\d+)_(.*)\.sql$/.exec(file);
  if (!match) throw new Error(`migration file ${file} is not named <timestamp>_<name>.sql`);
  return { version: match[1] as string, name: match[2] as string };
}

/** The history table as the Supabase CLI creates it, for a database that never saw the CLI. */
const HISTORY = `
  create schema if not exists supabase_migrations;
  create table if not exists supabase_migrations.schema_migrations (
    version text not null primary key,
    statements text[],
    name text
  );`;

/** The versions recorded as applied. */
export async function appliedVersions(client: pg.ClientBase): Promise<Set<string>> {
  const { rows } = await client.query<{ version: string }>(
    "select version from supabase_migrations.schema_migrations",
  );
  return new Set(rows.map((r) => r.version));
}

/**
 * Applies the files not yet recorded (of `files`, by default all of them) and records each. Answers the
 * files it applied, in order.
 *
 * All in one transaction: on Supabase, whatever the released files create in `public` is granted to anon
 * and authenticated until their grants file revokes it, so a run must never stop half way with that window
 * open. Either every pending file applies, or none does. Two runs at once apply each file once: the second
 * waits for the first, then finds its records.
 */
export async function applyMigrations(client: pg.ClientBase, files?: string[]): Promise<string[]> {
  const candidates = files ?? (await migrationFiles());
  const applied: string[] = [];
  await client.query("begin");
  try {
    // Runs of ours queue here before anything else, so that two never race to create the history; the
    // table lock then also holds off a Supabase CLI run that would record a file at the same time.
    await client.query("select pg_advisory_xact_lock(hashtext('supabase_migrations.schema_migrations'))");
    await client.query(HISTORY);
    await client.query("lock table supabase_migrations.schema_migrations in exclusive mode");
    const done = await appliedVersions(client);
    for (const file of candidates) {
      const { version, name } = migrationVersion(file);
      if (done.has(version)) continue;
      const sql = await readFile(new URL(file, `file://${MIGRATIONS_DIR}`), "utf8");
      try {
        await client.query(sql);
      } catch (err) {
        throw new Error(`migration ${file} failed: ${(err as Error).message}`);
      }
      await client.query(
        "insert into supabase_migrations.schema_migrations (version, name, statements) values ($1, $2, $3)",
        [version, name, [sql]],
      );
      applied.push(file);
    }
    await client.query("commit");
  } catch (err) {
    await client.query("rollback");
    throw err;
  }
  return applied;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const url = process.env.DATABASE_URL;
  if (!url) {
    console.error("DATABASE_URL is not set: it names the database to migrate");
    process.exit(2);
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const files = await applyMigrations(client);
    console.log(
      files.length === 0
        ? "no migration to apply: every file is recorded as applied"
        : `applied ${files.length} migrations: ${files.join(", ")}`,
    );
  } finally {
    await client.end();
  }
}
