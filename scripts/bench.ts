/**
 * `npm run bench`: the project's backup and restore of one large tenant, timed side by side with
 * PostgreSQL's own COPY of the same rows in the same run, plus how cost grows with tenants and size.
 *
 *   BENCH_ROWS   rows of the large tenant (default 1,000,000; the demo app's 24 tables)
 *   BENCH_QUICK  set to 1 for a short run (100k rows, smaller scaling steps), e.g. to try it out
 *
 * Everything runs through the code the functions run (lib/), against an embedded PostgreSQL in a
 * temporary folder, with files in a temporary local storage folder. It reports; it never fails a build.
 */
import { execSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip, createGzip } from "node:zlib";
import pg from "pg";
import { from as copyFrom, to as copyTo } from "pg-copy-streams";
import { runDailyBackup } from "../lib/backup/daily.ts";
import { backupTenant } from "../lib/backup/tenant-backup.ts";
import type { Catalog } from "../lib/catalog.ts";
import { loadConfig } from "../lib/config.ts";
import { createLogger } from "../lib/logger.ts";
import { restoreTenant } from "../lib/restore/restore-tenant.ts";
import { createServices, type Services } from "../lib/services.ts";
import { utcDay } from "../lib/time.ts";
import { DEMO_ORGANIZATIONS, installDemo } from "./demo/install.ts";
import { type RunningPostgres, startEmbeddedPostgres } from "./embedded-postgres.ts";
import { applyMigrations } from "./migrate.ts";

const QUICK = process.env.BENCH_QUICK === "1";
const ROWS = Number(process.env.BENCH_ROWS ?? (QUICK ? 100_000 : 1_000_000));
/** The demo's large tenant has about 118,000 rows at scale 1. */
const ROWS_PER_SCALE = 118_267;
const ACME = DEMO_ORGANIZATIONS[0]?.id as string;

// ---- measuring ---------------------------------------------------------------------------------

interface Measure {
  ms: number;
  peakRssMb: number;
}

/** Times `fn` and samples this process's resident memory while it runs. */
async function measure<T>(fn: () => Promise<T>): Promise<Measure & { value: T }> {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 10);
  const started = performance.now();
  try {
    const value = await fn();
    return {
      value,
      ms: performance.now() - started,
      peakRssMb: Math.max(peak, process.memoryUsage().rss) / 2 ** 20,
    };
  } finally {
    clearInterval(timer);
  }
}

const fmt = (n: number, digits = 0) =>
  n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
const secs = (ms: number) => `${fmt(ms / 1000, 2)} s`;

function row(cells: string[], widths: number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 10) : c.padStart(widths[i] ?? 10))).join("  ");
}

// ---- setup ---------------------------------------------------------------------------------------

async function freshDatabase(server: RunningPostgres, name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  await admin.query(`drop database if exists ${name} with (force)`);
  await admin.query(`create database ${name}`);
  await admin.end();
  return server.urlFor(name);
}

async function demoDatabase(server: RunningPostgres, name: string, rows: number): Promise<string> {
  const url = await freshDatabase(server, name);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await installDemo(client, { scale: rows / ROWS_PER_SCALE });
  await applyMigrations(client);
  await client.query("vacuum analyze");
  await client.end();
  return url;
}

/** A small schema of N tenants: organizations → customers → orders → order_items (composite key). */
async function manyTenantsDatabase(server: RunningPostgres, name: string, tenants: number, rowsEach: number) {
  const url = await freshDatabase(server, name);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const perTable = Math.max(1, Math.floor(rowsEach / 3));
  await client.query(`
    create table organizations (id uuid primary key, name text not null);
    create table customers (id bigint generated always as identity primary key,
      organization_id uuid not null references organizations on delete cascade, name text, email text);
    create table orders (id bigint generated always as identity primary key,
      customer_id bigint not null references customers on delete cascade, placed_at timestamptz, total numeric(12,2));
    create table order_items (order_id bigint not null references orders on delete cascade, line int not null,
      sku text, qty int, primary key (order_id, line));
    create index on customers (organization_id);
    create index on orders (customer_id);
    insert into organizations select md5('org' || i)::uuid, 'Tenant ' || i from generate_series(1, ${tenants}) i;
    insert into customers (organization_id, name, email)
      select o.id, 'Customer ' || g, 'c' || g || '@example.com' from organizations o, generate_series(1, ${perTable}) g;
    insert into orders (customer_id, placed_at, total)
      select c.id, now() - (c.id || ' minutes')::interval, (c.id % 1000) / 7.0 from customers c;
    insert into order_items select o.id, 1, 'SKU-' || (o.id % 97), (o.id % 5) + 1 from orders o;`);
  await applyMigrations(client);
  await client.query("vacuum analyze");
  await client.end();
  return url;
}

function servicesFor(url: string, backupDir: string, env: Record<string, string> = {}): Services {
  return createServices(
    loadConfig({
      DATABASE_URL: url,
      BACKUP_DIR: backupDir,
      CRON_SECRET: "bench-secret-not-used-0123456789",
      LOG_LEVEL: "warn",
      BACKUP_TIME_BUDGET_MS: String(3_600_000),
      ...env,
    }),
    { log: createLogger({ level: "warn" }) },
  );
}

async function tenantRows(client: pg.Client, catalog: Catalog): Promise<number> {
  let total = 0;
  for (const table of catalog.tables) {
    const { rows } = await client.query(
      `select count(*)::int as n from public.${table.name} t0 where ${table.scope}`,
      [ACME],
    );
    total += rows[0].n;
  }
  return total;
}

// ---- the PostgreSQL baseline -----------------------------------------------------------------------

/** COPY … TO of the tenant's rows of every table, through gzip; keeps the compressed output for COPY FROM. */
async function copyOutGzip(
  url: string,
  catalog: Catalog,
): Promise<{ bytesRaw: number; files: Map<string, Buffer> }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const files = new Map<string, Buffer>();
  let bytesRaw = 0;
  try {
    for (const table of catalog.tables) {
      const chunks: Buffer[] = [];
      const source = client.query(
        copyTo(
          `copy (select * from public.${table.name} t0 where ${table.scope.replace("$1::", `'${ACME}'::`)}) to stdout`,
        ),
      );
      source.on("data", (c: Buffer) => {
        bytesRaw += c.length;
      });
      await pipeline(
        source,
        createGzip(),
        new Writable({
          write(c, _e, cb) {
            chunks.push(c);
            cb();
          },
        }),
      );
      files.set(table.name, Buffer.concat(chunks));
    }
  } finally {
    await client.end();
  }
  return { bytesRaw, files };
}

/** What a COPY-based restore of the tenant does: delete its rows, COPY the saved rows back, one transaction. */
async function copyInReplace(url: string, catalog: Catalog, files: Map<string, Buffer>): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query("begin");
    await client.query("set local session_replication_role = replica");
    for (const table of [...catalog.tables].reverse()) {
      await client.query(`delete from public.${table.name} t0 where ${table.scope}`, [ACME]);
    }
    for (const table of catalog.tables) {
      const generated = table.columns.filter((c) => c.generated).length;
      if (generated > 0) {
        // COPY FROM cannot write generated columns: load the others through a temporary table.
        const stored = table.columns
          .filter((c) => !c.generated)
          .map((c) => `"${c.name}"`)
          .join(", ");
        await client.query(`create temp table bench_in (like public.${table.name}) on commit drop`);
        await pipeline(
          Readable.from([files.get(table.name) as Buffer]),
          createGunzip(),
          client.query(copyFrom("copy bench_in from stdin")),
        );
        await client.query(
          `insert into public.${table.name} (${stored}) overriding system value select ${stored} from bench_in`,
        );
        await client.query("drop table bench_in");
      } else {
        await pipeline(
          Readable.from([files.get(table.name) as Buffer]),
          createGunzip(),
          client.query(copyFrom(`copy public.${table.name} from stdin`)),
        );
      }
    }
    await client.query("commit");
  } catch (err) {
    await client.query("rollback").catch(() => {});
    throw err;
  } finally {
    await client.end();
  }
}

// ---- the runs ----------------------------------------------------------------------------------------

async function main() {
  const workDir = await mkdtemp(join(tmpdir(), "tenant-backup-bench-"));
  const server = await startEmbeddedPostgres({ dataDir: join(workDir, "pg"), fast: true });
  const version = execSync("node --version").toString().trim();
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  const lines: string[] = [];
  const say = (line = "") => {
    lines.push(line);
    console.log(line);
  };
  try {
    say(`tenant-backup benchmark, ${new Date().toISOString().slice(0, 10)}`);
    say(
      `machine: ${cpu}, ${cpus().length} cores, ${fmt(totalmem() / 2 ** 30, 0)} GiB; node ${version}; embedded PostgreSQL (fsync off for both sides)`,
    );
    say();

    // 1. The large tenant, against COPY.
    console.error(`building a tenant of about ${fmt(ROWS)} rows …`);
    const url = await demoDatabase(server, "bench_main", ROWS);
    const services = servicesFor(url, join(workDir, "files-main"));
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const catalog = await services.db.catalog();
    const rows = await tenantRows(client, catalog);
    say(`largest tenant: ${fmt(rows)} rows over ${catalog.tables.length} tables`);

    const copyOut = await measure(() => copyOutGzip(url, catalog));
    const rawMb = copyOut.value.bytesRaw / 2 ** 20;
    const gzMb = [...copyOut.value.files.values()].reduce((n, b) => n + b.length, 0) / 2 ** 20;
    const backup = await measure(() =>
      backupTenant(services, {
        tenantId: ACME,
        tenantName: null,
        type: "manual",
        date: utcDay(new Date()),
        deadline: Date.now() + 3_600_000,
      }),
    );
    const backupMb = backup.value.status === "completed" ? backup.value.bytes / 2 ** 20 : Number.NaN;

    const date = utcDay(new Date());
    const dryRun = await measure(() =>
      restoreTenant(services, {
        tenantId: ACME,
        backupDate: date,
        dryRun: true,
        deadline: Date.now() + 3_600_000,
      }),
    );
    const restore = await measure(() =>
      restoreTenant(services, {
        tenantId: ACME,
        backupDate: date,
        dryRun: false,
        deadline: Date.now() + 3_600_000,
      }),
    );
    // Disaster recovery: the tenant's rows are gone, every row is inserted again.
    await client.query("begin; set local session_replication_role = replica;");
    for (const table of [...catalog.tables].reverse())
      await client.query(`delete from public.${table.name} t0 where ${table.scope}`, [ACME]);
    await client.query("commit");
    const restoreEmpty = await measure(() =>
      restoreTenant(services, {
        tenantId: ACME,
        backupDate: date,
        backupId: backup.value.backupId,
        dryRun: true,
        deadline: Date.now() + 3_600_000,
      }),
    );
    const copyIn = await measure(() => copyInReplace(url, catalog, copyOut.value.files));

    const w = [44, 10, 12, 9, 9, 10];
    say();
    say(row(["operation", "time", "rows/s", "MB/s", "vs COPY", "peak RSS"], w));
    const line = (name: string, m: Measure, base: Measure | null, mb: number) =>
      say(
        row(
          [
            name,
            secs(m.ms),
            fmt(rows / (m.ms / 1000)),
            fmt(mb / (m.ms / 1000), 1),
            base ? `${fmt(m.ms / base.ms, 2)}×` : "1.00×",
            `${fmt(m.peakRssMb)} MB`,
          ],
          w,
        ),
      );
    line("COPY TO, gzip (baseline)", copyOut, null, rawMb);
    line("backup (project)", backup, copyOut, rawMb);
    line("delete + COPY FROM (baseline)", copyIn, null, rawMb);
    line("restore into emptied tenant, dry run", restoreEmpty, copyIn, rawMb);
    line("restore over unchanged data, dry run", dryRun, copyIn, rawMb);
    line("restore, real (incl. undo backup)", restore, copyIn, rawMb);
    say();
    say(
      `text exported: ${fmt(rawMb, 1)} MB as COPY text; stored: ${fmt(backupMb, 1)} MB by the project, ${fmt(gzMb, 1)} MB by COPY|gzip`,
    );
    if (restoreEmpty.value.status === "done") {
      say(
        `restore into emptied tenant, inside PostgreSQL: ${JSON.stringify(restoreEmpty.value.report.timings_ms)} (ms)`,
      );
    }
    say(`process peak RSS over the whole run so far: ${fmt(process.resourceUsage().maxRSS / 1024)} MB`);
    await client.end();
    await services.close();

    // 2. How cost grows with the number of tenants (daily run), ~1,000 rows each.
    say();
    say("daily run over many tenants (about 1,000 rows each):");
    const w2 = [12, 10, 12, 10];
    say(row(["tenants", "time", "ms/tenant", "peak RSS"], w2));
    for (const tenants of QUICK ? [1, 10, 30] : [1, 10, 100]) {
      const manyUrl = await manyTenantsDatabase(server, `bench_many_${tenants}`, tenants, 1000);
      const many = servicesFor(manyUrl, join(workDir, `files-many-${tenants}`));
      const run = await measure(() => runDailyBackup(many, { deadline: Date.now() + 3_600_000 }));
      if (!run.value.complete) throw new Error("daily run did not complete");
      say(row([String(tenants), secs(run.ms), fmt(run.ms / tenants), `${fmt(run.peakRssMb)} MB`], w2));
      await many.close();
    }

    // 3. How cost grows with one tenant's size.
    say();
    say("one tenant of growing size (demo schema):");
    const w3 = [12, 12, 12, 14, 12];
    say(row(["rows", "backup", "rows/s", "restore (dry)", "peak RSS"], w3));
    for (const size of QUICK ? [10_000, 100_000] : [10_000, 100_000, 1_000_000]) {
      const sizedUrl = size === ROWS ? url : await demoDatabase(server, `bench_size_${size}`, size);
      const sized = servicesFor(sizedUrl, join(workDir, `files-size-${size}`));
      const b = await measure(() =>
        backupTenant(sized, {
          tenantId: ACME,
          tenantName: null,
          type: "manual",
          date,
          deadline: Date.now() + 3_600_000,
        }),
      );
      const r = await measure(() =>
        restoreTenant(sized, {
          tenantId: ACME,
          backupDate: date,
          backupId: b.value.backupId,
          dryRun: true,
          deadline: Date.now() + 3_600_000,
        }),
      );
      const count = b.value.records;
      say(
        row(
          [
            fmt(count),
            secs(b.ms),
            fmt(count / (b.ms / 1000)),
            secs(r.ms),
            `${fmt(Math.max(b.peakRssMb, r.peakRssMb))} MB`,
          ],
          w3,
        ),
      );
      await sized.close();
    }
    say();
    say(`process peak RSS over the whole run: ${fmt(process.resourceUsage().maxRSS / 1024)} MB`);
  } finally {
    await server.stop();
    await rm(workDir, { recursive: true, force: true });
  }
}

await main();
