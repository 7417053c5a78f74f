/**
 * Applies supabase/migrations/*.sql in file-name order over a direct connection. Every file is idempotent,
 * so applying all of them again is how an installation is upgraded. `npm run migrate` uses DATABASE_URL.
 */
import { readdir, readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import pg from "pg";

export const MIGRATIONS_DIR = fileURLToPath(new URL("../supabase/migrations/", import.meta.url));

export async function migrationFiles(): Promise<string[]> {
  return (await readdir(MIGRATIONS_DIR)).filter((name) => name.endsWith(".sql")).sort();
}

/**
 * All files in one transaction: on Supabase, whatever a file creates in `public` is granted to anon and
 * authenticated until the grants file (last) revokes it, so a run must never stop half way with that
 * window open. Either every file applies, or none does.
 */
export async function applyMigrations(client: pg.ClientBase): Promise<string[]> {
  const files = await migrationFiles();
  await client.query("begin");
  try {
    for (const file of files) {
      const sql = await readFile(new URL(file, `file://${MIGRATIONS_DIR}`), "utf8");
      try {
        await client.query(sql);
      } catch (err) {
        throw new Error(`migration ${file} failed: ${(err as Error).message}`);
      }
    }
    await client.query("commit");
  } catch (err) {
    await client.query("rollback");
    throw err;
  }
  return files;
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
    console.log(`applied ${files.length} migrations: ${files.join(", ")}`);
  } finally {
    await client.end();
  }
}
