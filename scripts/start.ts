/**
 * `npm start`: the local server on PORT (default 8888) serving the same functions Netlify runs, and the
 * admin page at / (built into public/ first when web/ changed since the last build).
 *
 * Without DATABASE_URL it starts an embedded PostgreSQL in .data/postgres with the demo app (24 tenant
 * tables, 3 organizations) so there is something to back up. With DATABASE_URL that database is used as
 * it is: only the project's own migrations are applied, never demo tables or data.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import pg from "pg";
import { loadConfig } from "../lib/config.ts";
import { utcDay } from "../lib/time.ts";
import { DEMO_ORGANIZATIONS, hasDemo, installDemo, installDemoValidation } from "./demo/install.ts";
import { startEmbeddedPostgres } from "./embedded-postgres.ts";
import { startLocalSite } from "./local-site.ts";
import { applyMigrations } from "./migrate.ts";

const DATA_DIR = resolve(process.env.LOCAL_DATA_DIR ?? ".data");
const DEMO_DATABASE = "tenant_backup_demo";

async function prepareDatabase(): Promise<{ url: string; stop?: () => Promise<void>; demo: boolean }> {
  if (process.env.DATABASE_URL) {
    const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await client.connect();
    try {
      await applyMigrations(client);
    } finally {
      await client.end();
    }
    return { url: process.env.DATABASE_URL, demo: false };
  }
  console.log(`starting the embedded PostgreSQL in ${DATA_DIR}/postgres …`);
  const server = await startEmbeddedPostgres({
    dataDir: resolve(DATA_DIR, "postgres"),
    port: Number(process.env.PGPORT ?? 54329),
  });
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  const exists = await admin.query("select 1 from pg_database where datname = $1", [DEMO_DATABASE]);
  if (exists.rowCount === 0) await admin.query(`create database ${DEMO_DATABASE}`);
  await admin.end();
  const url = server.urlFor(DEMO_DATABASE);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const fresh = !(await hasDemo(client));
    if (fresh) {
      console.log("creating the demo app (24 tables, 3 organizations) …");
      await installDemo(client);
    }
    await applyMigrations(client);
    // The demo's rules and the rows that break them, once, on the fresh demo only.
    if (fresh) await installDemoValidation(client);
  } finally {
    await client.end();
  }
  return { url, stop: () => server.stop(), demo: true };
}

/** A CRON_SECRET for local use, kept in .data so it stays the same between runs. */
function localCronSecret(): string {
  const file = resolve(DATA_DIR, "cron-secret");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  mkdirSync(DATA_DIR, { recursive: true });
  const secret = randomBytes(24).toString("base64url");
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

const database = await prepareDatabase();
process.env.DATABASE_URL = database.url;
const generated = !process.env.CRON_SECRET;
process.env.CRON_SECRET ??= localCronSecret();
const config = loadConfig(process.env);
const site = await startLocalSite({ port: config.port, databaseUrl: database.url, demo: database.demo });
const base = `http://localhost:${config.port}/.netlify/functions`;
const org = DEMO_ORGANIZATIONS[0]?.id ?? "<organization_id>";

console.log(`
tenant-backup is listening on http://localhost:${config.port}

  Admin page: ${site.url}
    ${site.demoSignIn ? "sign in as one of the demo users: an admin of each organization, a member, a super admin" : "sign in with Supabase Auth (SUPABASE_URL and SUPABASE_ANON_KEY)"}

  database: ${database.demo ? "embedded PostgreSQL with the demo app" : "DATABASE_URL"}
  storage:  ${config.storage.kind === "local" ? resolve(config.storage.dir) : `Supabase Storage bucket ${config.storage.bucket}`}
  CRON_SECRET${generated ? " (generated for local use, kept in .data/cron-secret)" : ""}: ${process.env.CRON_SECRET}

Try:
  export CRON_SECRET='${process.env.CRON_SECRET}'
  curl -X POST -H "Authorization: Bearer $CRON_SECRET" ${base}/daily-tenant-backup
  curl -X POST "${base}/daily-tenant-backup?secret=$CRON_SECRET"
  curl -X POST -H "Authorization: Bearer $CRON_SECRET" -H 'content-type: application/json' \\
       -d '{"organization_id":"${org}"}' ${base}/backup-tenant-data
  curl -H "Authorization: Bearer $CRON_SECRET" "${base}/list-backups?organization_id=${org}"
  curl -X POST -H "Authorization: Bearer $CRON_SECRET" -H 'content-type: application/json' \\
       -d '{"organization_id":"${org}","backup_date":"${utcDay(new Date())}","dry_run":true}' ${base}/restore-tenant-data
  ls -R ${config.storage.kind === "local" ? config.storage.dir : "."}/tenant-backups | head
  psql '${database.url}' -c "select backup_type, status, organization_id, records_count, file_size, duration_ms from backup_logs order by id desc limit 10"
`);

const shutdown = async () => {
  await site.close();
  await database.stop?.();
  process.exit(0);
};
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);
