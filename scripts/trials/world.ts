/**
 * The ground every fault trial stands on: one embedded PostgreSQL with Supabase's cluster roles, a template
 * database holding the demo app and our migrations installed as the non-superuser owner (as the tests
 * build theirs), and per trial a fresh clone of it with its own storage folder.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { loadConfig } from "../../lib/config.ts";
import { createLogger } from "../../lib/logger.ts";
import { createServices, type Services } from "../../lib/services.ts";
import { installClusterRoles, installSupabaseDefaults, OWNER, urlAs } from "../../tests/support/roles.ts";
import { snapshot } from "../../tests/support/snapshot.ts";
import { DEMO_ORGANIZATIONS, DEMO_TABLES, installDemo } from "../demo/install.ts";
import { startEmbeddedPostgres } from "../embedded-postgres.ts";
import { applyMigrations } from "../migrate.ts";

/** The large demo tenant: every trial works on it. */
export const TENANT = DEMO_ORGANIZATIONS[0]?.id as string;
const TEMPLATE = "trials_template";
/** About 11,000 rows in the large tenant: long enough to be hit at a random moment, short per trial. */
const SCALE = Number(process.env.TRIALS_SCALE ?? 0.1);

/** Small files and pages, so that an operation stores many parts and has many moments to be hit at. */
export const TRIAL_ENV: Record<string, string> = {
  CRON_SECRET: "trials-cron-secret-0123456789",
  LOG_LEVEL: "silent",
  BACKUP_LOCK_TTL_SECONDS: "1",
  BACKUP_PAGE_ROWS: "500",
  BACKUP_MAX_FILE_BYTES: "40000",
  RESTORE_MIN_INTERVAL_SECONDS: "0",
  MANUAL_BACKUP_MIN_INTERVAL_SECONDS: "0",
  BACKUP_TIME_BUDGET_MS: String(3_600_000),
};

export interface World {
  adminUrl: string;
  /** A fresh database cloned from the template, and a storage folder of its own. */
  trialDatabase(): Promise<TrialDatabase>;
  stop(): Promise<void>;
}

export interface TrialDatabase {
  name: string;
  /** The owner's connection: what the product uses. */
  url: string;
  backupDir: string;
  /** Superuser, for the trial's own checks and faults; the product never gets it. */
  admin: pg.Client;
  services(env?: Record<string, string>): Services;
  /** Another fresh clone sharing this one's storage folder: a database that never saw the tenant's backup. */
  sibling(): Promise<TrialDatabase>;
  drop(): Promise<void>;
}

let counter = 0;

export async function startWorld(): Promise<World> {
  const dir = await mkdtemp(join(tmpdir(), "tenant-backup-trials-"));
  const server = await startEmbeddedPostgres({ dataDir: join(dir, "pg"), fast: true });
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  await installClusterRoles(admin);
  await admin.query(`drop database if exists ${TEMPLATE}`);
  await admin.query(`create database ${TEMPLATE} owner ${OWNER}`);
  await admin.end();
  const owner = new pg.Client({ connectionString: urlAs(server.url, OWNER, TEMPLATE) });
  await owner.connect();
  try {
    await installSupabaseDefaults(owner);
    await installDemo(owner, { scale: SCALE });
    await applyMigrations(owner);
  } finally {
    await owner.end();
  }

  async function clone(backupDir?: string): Promise<TrialDatabase> {
    const name = `trial_${process.pid}_${++counter}`;
    const superuser = new pg.Client({ connectionString: server.url });
    await superuser.connect();
    await superuser.query(`create database ${name} template ${TEMPLATE} owner ${OWNER}`);
    await superuser.end();
    const dirOf = backupDir ?? (await mkdtemp(join(dir, "files-")));
    const client = new pg.Client({ connectionString: server.urlFor(name) });
    await client.connect();
    // A terminated backend of the product must not take the trial's own client down with it.
    client.on("error", () => {});
    const url = urlAs(server.url, OWNER, name);
    const opened: Services[] = [];
    return {
      name,
      url,
      backupDir: dirOf,
      admin: client,
      services(env = {}) {
        const config = loadConfig({ ...TRIAL_ENV, DATABASE_URL: url, BACKUP_DIR: dirOf, ...env });
        const services = createServices(config, { log: createLogger({ level: "silent" }) });
        opened.push(services);
        return services;
      },
      sibling: () => clone(dirOf),
      async drop() {
        for (const s of opened) await s.close().catch(() => {});
        await client.end().catch(() => {});
        const again = new pg.Client({ connectionString: server.url });
        await again.connect();
        await again.query(`drop database if exists ${name} with (force)`);
        await again.end();
        if (!backupDir) await rm(dirOf, { recursive: true, force: true });
      },
    };
  }

  return {
    adminUrl: server.url,
    trialDatabase: () => clone(),
    async stop() {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The tenant's rows of every demo table, hashed (tests/support/snapshot.ts), other tenants left out. */
export async function tenantSnapshot(db: TrialDatabase): Promise<Record<string, string>> {
  const services = db.services();
  const catalog = await services.db.catalog();
  const out: Record<string, string> = {};
  // One moment for every table: a commit landing between two tables' reads would look like a mix.
  await db.admin.query("begin isolation level repeatable read");
  try {
    for (const table of catalog.tables) {
      if (!DEMO_TABLES.includes(table.name)) continue;
      const scope = table.scope.replaceAll("$1::", `'${TENANT}'::`);
      const view = `(select * from public.${table.name} t0 where ${scope})`;
      Object.assign(out, { [table.name]: (await snapshot(db.admin, [view]))[view] });
    }
  } finally {
    await db.admin.query("commit");
  }
  return out;
}

/**
 * Waits until the server has ended every backend of the product on the database: a killed client's
 * statement goes on in the server until it finishes or notices, so the outcome is final only then.
 */
export async function productBackendsGone(db: TrialDatabase, timeoutMs = 30_000): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const { rows } = await db.admin.query(
      "select count(*)::int as n from pg_stat_activity where datname = $1 and usename = $2",
      [db.name, OWNER],
    );
    if (rows[0].n === 0) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

export function sameSnapshot(a: Record<string, string>, b: Record<string, string>): string[] {
  return Object.keys({ ...a, ...b }).filter((k) => a[k] !== b[k]);
}

/** Removes the tenant's rows (children first, triggers off), as a lost tenant would be. */
export async function eraseTenant(db: TrialDatabase): Promise<void> {
  const catalog = await db.services().db.catalog();
  await db.admin.query("begin");
  await db.admin.query("set local session_replication_role = replica");
  for (const table of [...catalog.tables].reverse()) {
    await db.admin.query(`delete from public.${table.name} t0 where ${table.scope}`, [TENANT]);
  }
  await db.admin.query("commit");
}

/** Resolves once another holder can take the tenant's lease; false if it stays held for `timeoutMs`. */
export async function leaseFreed(services: Services, timeoutMs = 5_000): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const lock = await services.db.acquireLock(TENANT, "probe", "trials-probe", 60);
    if (lock.acquired) {
      await services.db.releaseLock(TENANT, "trials-probe");
      return true;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/** What an operation left behind: `running` log rows and live leases of the tenant. */
export async function leftovers(db: TrialDatabase): Promise<string[]> {
  const found: string[] = [];
  const running = await db.admin.query(
    "select backup_id, backup_type from backup_logs where organization_id::text = $1 and status = 'running'",
    [TENANT],
  );
  for (const r of running.rows) found.push(`backup_logs ${r.backup_id} (${r.backup_type}) still running`);
  const leases = await db.admin.query(
    "select operation from tenant_backup_locks where organization_id = $1 and expires_at > now()",
    [TENANT],
  );
  for (const r of leases.rows) found.push(`lease "${r.operation}" still held`);
  return found;
}
