/**
 * `npm run bench`: the project's backup and restore of one large tenant, timed side by side with
 * PostgreSQL's own COPY of the same rows in the same run, plus how cost grows with tenants and size.
 *
 *   BENCH_ROWS   rows of the large tenant (default 1,000,000, over the demo app's 24 tables)
 *   BENCH_QUICK  1 for a short run (100,000 rows, smaller scaling steps)
 *   BENCH_REPEAT how many times each backup and its COPY baseline run, in turn (default 5: medians shown)
 *   BENCH_RESTORE_REPEAT  how many rounds of the restores and their baseline run, in turn (default 3 in
 *                the main section, 1 in the others)
 *   BENCH_ONLY   sections to run, comma-separated (default: every one): main, values, nopk, daily, fanout,
 *                sizes, chunks (the chunked layout's figures: 30 daily backups, zstd against gzip),
 *                postgrest (requests and bytes of the Supabase API path, scripts/bench/postgrest.ts),
 *                wide (a table of 200 columns), tables (300 tenant tables)
 *   BENCH_POSTGREST_ROWS  that section's tenant sizes (default 50000,100000); BACKUP_PAGE_* pass through
 *   BENCH_DAILY_TENANTS, BENCH_DAILY_ROWS  the fanout section's tenants (10,000) and rows each (100)
 *   BENCH_FANOUT_CALLS, BENCH_FANOUT_POOL  its calls started together (1,2,4) and BACKUP_TENANT_CONCURRENCY (4)
 *   BENCH_LATENCY_MS, BENCH_STORAGE_MS  its database round trip through a relay that delays it, and each
 *                storage request's wait (default 0: none), to measure what a network's latency costs
 *   BENCH_CALLS  1 to print every daily run's calls by kind and the statements it sent
 *   BENCH_CHUNK_TARGET  BACKUP_CHUNK_TARGET_BYTES of every section's backups (default: the product's)
 *   BENCH_SETTLE 0 to time each restore and its baseline right after the step before (default 1: on a
 *                settled database, see settle below)
 *
 * Every measured operation runs in a fresh process (scripts/bench/operation.ts) through the code the
 * functions run, so its time and peak memory are its own. Data lives in an embedded PostgreSQL in a
 * temporary folder (fsync off for every side alike), files in a temporary local storage folder. It
 * reports; it never fails a build.
 */
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { build } from "esbuild";
import pg from "pg";
import type { Catalog } from "../../lib/catalog.ts";
import { loadConfig } from "../../lib/config.ts";
import { createLogger } from "../../lib/logger.ts";
import { createServices } from "../../lib/services.ts";
import { utcDay } from "../../lib/time.ts";
import { DEMO_ORGANIZATIONS, installDemo } from "../demo/install.ts";
import { type RunningPostgres, startEmbeddedPostgres } from "../embedded-postgres.ts";
import { applyMigrations } from "../migrate.ts";
import type { CpuTime } from "./cpu-time.ts";
import { benchDedupe } from "./dedupe.ts";
import { startLatencyProxy } from "./latency-proxy.ts";
import type { OperationArgs } from "./operation.ts";
import { benchPostgrest } from "./postgrest.ts";
import { splitCounts } from "./round-trips.ts";
import { fillTables } from "./tables.ts";
import { fillWide, WIDE_COLUMNS } from "./wide.ts";

const QUICK = process.env.BENCH_QUICK === "1";
/**
 * How many times each section's backup and its COPY baseline run, in turn (their medians are shown): five
 * by default, as the pair takes seconds and single runs vary by a third on this noisy machine.
 */
const REPEAT = Math.max(1, Number(process.env.BENCH_REPEAT ?? 5));
const ROWS = Number(process.env.BENCH_ROWS ?? (QUICK ? 100_000 : 1_000_000));
/** The demo's large tenant has about 118,000 rows at scale 1. */
const ROWS_PER_SCALE = 118_267;
const ACME = DEMO_ORGANIZATIONS[0]?.id as string;
const OPERATION_SOURCE = fileURLToPath(new URL("./operation.ts", import.meta.url));
/** Bundled like a deployed function (plain JavaScript, no TypeScript compiler in the process). */
const OPERATION = fileURLToPath(new URL("../../.data/bench/operation.mjs", import.meta.url));

interface Result {
  ms: number;
  peakRssMb: number;
  cpu: CpuTime;
  // biome-ignore lint/suspicious/noExplicitAny: each operation answers its own shape
  value: any;
}

async function measure(args: Partial<OperationArgs> & Pick<OperationArgs, "op" | "url">): Promise<Result> {
  const full: OperationArgs = { backupDir: "", tenantId: ACME, date: utcDay(new Date()), ...args };
  // In a file: the catalog of hundreds of tables is more than one environment variable may hold.
  const argsFile = join(tmpdir(), `tenant-backup-bench-args-${process.pid}-${randomUUID()}.json`);
  await writeFile(argsFile, JSON.stringify(full));
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [OPERATION], {
      env: { ...process.env, BENCH_ARGS_FILE: argsFile },
      maxBuffer: 16 * 1024 * 1024,
    });
    return JSON.parse(stdout.trim().split("\n").at(-1) as string) as Result;
  } finally {
    await rm(argsFile, { force: true });
  }
}

/**
 * The middle run by time (of an even count, the slower of the two middle ones), with the highest peak RSS
 * of them all.
 */
function medianOf(runs: Result[]): Result {
  const sorted = [...runs].sort((a, b) => a.ms - b.ms);
  const middle = sorted[Math.floor(sorted.length / 2)] as Result;
  return { ...middle, peakRssMb: Math.max(...runs.map((r) => r.peakRssMb)) };
}

const say = (line = "") => console.log(line);
/** Where a run's CPU time went: "Node 3.41 s (main thread 1.93 s, in the kernel 0.54 s), PostgreSQL 1.12 s". */
function cpuOf({ cpu }: Result): string {
  const node = `Node ${secs(cpu.processMs)} (main thread ${secs(cpu.mainMs)}, in the kernel ${secs(cpu.systemMs)})`;
  return cpu.postgresMs === null ? node : `${node}, PostgreSQL ${secs(cpu.postgresMs)}`;
}
/**
 * Calls by kind, per tenant, most first, then the statements sent to the database:
 * "12.0 sql x, 3.0 storage put, …; 20.0 calls in all, 34.0 database statements".
 */
function callsPerTenant(calls: Record<string, number>, tenants: number): string {
  const { statements, kinds } = splitCounts(calls);
  const sorted = Object.entries(kinds).sort((a, b) => b[1] - a[1]);
  const total = sorted.reduce((n, [, c]) => n + c, 0);
  return `${sorted.map(([k, c]) => `${fmt(c / tenants, 1)} ${k}`).join(", ")}; ${fmt(total / tenants, 1)} calls in all, ${fmt(statements / tenants, 1)} database statements`;
}
/** BENCH_ONLY=main,values,…,postgrest runs only those sections (default: every one; the list is above). */
const ONLY = process.env.BENCH_ONLY?.split(",").map((x) => x.trim());
const runs = (section: string) => !ONLY || ONLY.includes(section);
const fmt = (n: number, digits = 0) =>
  n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
const secs = (ms: number) => `${fmt(ms / 1000, 2)} s`;
const withPort = (url: string, port: number) => {
  const u = new URL(url);
  u.port = String(port);
  return u.toString();
};
const row = (cells: string[], widths: number[]) =>
  cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 10) : c.padStart(widths[i] ?? 10))).join("  ");

async function freshDatabase(server: RunningPostgres, name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  await admin.query(`drop database if exists ${name} with (force)`);
  await admin.query(`create database ${name}`);
  await admin.end();
  return server.urlFor(name);
}

async function prepared(url: string, fill: (client: pg.Client) => Promise<void>): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await fill(client);
  await applyMigrations(client);
  await client.query("vacuum analyze");
  // The load's pages written out now, not by the checkpointer while the first steps are measured.
  await client.query("checkpoint");
  await client.end();
  return url;
}

const demoDatabase = async (server: RunningPostgres, name: string, rows: number) =>
  prepared(await freshDatabase(server, name), (c) => installDemo(c, { scale: rows / ROWS_PER_SCALE }));

/** N tenants of about `rowsEach` rows: organizations → customers → orders → order_items (composite key). */
async function manyTenantsDatabase(server: RunningPostgres, name: string, tenants: number, rowsEach: number) {
  const perTable = Math.max(1, Math.floor(rowsEach / 3));
  return prepared(await freshDatabase(server, name), async (c) => {
    await c.query(`
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
  });
}

/** Forgets every backup run, schedule and work item, so that each tenant is due again. */
async function resetRuns(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(
    "truncate tenant_backup_work_items, tenant_backup_schedules, tenant_backup_runs, backup_logs, tenant_backup_locks",
  );
  await client.end();
}

async function tenantRows(url: string, catalog: Catalog): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  let total = 0;
  for (const table of catalog.tables) {
    const { rows } = await client.query(
      `select count(*)::int as n from public.${table.name} t0 where ${table.scope}`,
      [ACME],
    );
    total += rows[0].n;
  }
  await client.end();
  return total;
}

async function catalogOf(url: string, backupDir: string): Promise<Catalog> {
  const config = loadConfig({ DATABASE_URL: url, BACKUP_DIR: backupDir, LOG_LEVEL: "warn" });
  const services = createServices(config, { log: createLogger({ level: "warn" }) });
  try {
    return await services.db.catalog();
  } finally {
    await services.close();
  }
}

/** ACME and one other tenant, each with `count` rows holding a 5 MB jsonb document and 5 MB of bytes. */
async function largeValuesDatabase(server: RunningPostgres, count: number) {
  return prepared(await freshDatabase(server, "bench_values"), async (c) => {
    await c.query(`
      create table organizations (id uuid primary key, name text not null);
      create table attachments (id bigint generated always as identity primary key,
        organization_id uuid not null references organizations, doc jsonb not null, body bytea not null);
      create index on attachments (organization_id);
      insert into organizations values ('${ACME}', 'Acme'), (md5('other')::uuid, 'Other');`);
    for (const org of [ACME, null]) {
      for (let i = 0; i < (org ? count : 2); i++) {
        // Random hex, so that compression has work to do: 156,250 md5s are 5 MB of text and of bytes.
        await c.query(
          `insert into attachments (organization_id, doc, body)
           select coalesce($1::uuid, md5('other')::uuid),
             jsonb_build_object('n', $2::int, 'text', string_agg(md5(random()::text) || ' "é"', '')),
             decode(string_agg(md5(random()::text) || md5(random()::text), ''), 'hex')
           from generate_series(1, 156250)`,
          [org, i],
        );
      }
    }
  });
}

/**
 * ACME and one other tenant, `rows` events each: without a primary key, or (`keyed`) the same rows
 * with one, to compare the two.
 */
async function eventsDatabase(server: RunningPostgres, keyed: boolean, rows: number) {
  const name = keyed ? "bench_events_keyed" : "bench_events_nopk";
  return prepared(await freshDatabase(server, name), async (c) => {
    await c.query(`
      create table organizations (id uuid primary key, name text not null);
      create table events (${keyed ? "id bigint primary key," : ""}
        organization_id uuid not null references organizations, at timestamptz not null, kind text, payload text);
      create index on events (organization_id);
      insert into organizations values ('${ACME}', 'Acme'), (md5('other')::uuid, 'Other');
      insert into events
      select ${keyed ? "g," : ""} case when g % 2 = 0 then '${ACME}'::uuid else md5('other')::uuid end,
        timestamptz '2026-01-01' + g * interval '1 second', 'kind-' || (g % 17), md5(g::text) || ' ' || g
      from generate_series(1, ${2 * rows}) g;`);
  });
}

/** Deletes every row of tenant ACME, children first, in replica mode (no trigger or foreign key fires). */
async function emptyTenant(url: string, catalog: Catalog): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query("begin; set local session_replication_role = replica;");
  for (const table of [...catalog.tables].reverse()) {
    await client.query(`delete from public.${table.name} t0 where ${table.scope}`, [ACME]);
  }
  await client.query("commit");
  await client.end();
}

/**
 * Lets the database settle before a timed restore or its baseline: the tenant's tables vacuumed and a
 * checkpoint taken. The bench's steps come one right after the other, each replacing up to all of ACME's
 * 1M rows: without this, a step started among the dead rows of the steps before (up to 2M after emptying
 * the tenant) beside autovacuum clearing them and a checkpoint writing their pages. A restore days after
 * the changes it undoes finds them cleared. What a timed step itself leaves (the baseline's delete) stays
 * its own cost, and statistics are left as they are: a restore analyzes the tables it writes.
 */
async function settle(url: string, catalog: Catalog): Promise<void> {
  if (process.env.BENCH_SETTLE === "0") return;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (const table of catalog.tables) await client.query(`vacuum public.${table.name}`);
    await client.query("checkpoint");
  } finally {
    await client.end();
  }
}

/**
 * Changes about `share` of ACME's rows, spread over its tables: in each table with a primary key, every
 * (1/share)-th row (by key) gets a text column edited (the first whose edit the table's constraints
 * accept), marked with `round`; in the tables no foreign key points at, a tenth as many rows are deleted
 * and as many copied in as new rows. Answers the rows updated, inserted and deleted. Each round's edits
 * read differently, so that the undo point of its restore is new text (chunks not stored by a round
 * before), as a day's edits would be.
 */
async function changeShare(url: string, catalog: Catalog, share: number, round: number) {
  const every = Math.round(1 / share);
  const referenced = new Set(catalog.foreign_keys.map((fk) => fk.ref_table));
  const changed = { updated: 0, inserted: 0, deleted: 0 };
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  // Each try in a savepoint: an edit a constraint refuses is undone and the next one tried.
  const attempt = async (sql: string): Promise<number | null> => {
    await client.query("savepoint edit");
    try {
      const { rowCount } = await client.query(sql, [ACME]);
      await client.query("release savepoint edit");
      return rowCount ?? 0;
    } catch {
      await client.query("rollback to savepoint edit");
      return null;
    }
  };
  try {
    await client.query("begin");
    for (const table of catalog.tables) {
      const key = table.primary_key;
      if (!key) continue;
      const keys = key.map((k) => `"${k}"`).join(", ");
      const picked = (nth: number, offset: number) =>
        `(${keys}) in (select ${keys} from (select ${keys}, row_number() over (order by ${keys}) as rn
          from public.${table.name} t0 where ${table.scope}) x where rn % ${nth} = ${offset})`;
      const texts = table.columns.filter(
        (c) => !c.generated && !key.includes(c.name) && /^(text|character varying)/.test(c.type),
      );
      for (const column of texts) {
        const n = await attempt(
          `update public.${table.name} set "${column.name}" = "${column.name}" || ' (edited ${round})' where ${picked(every, every / 2)}`,
        );
        if (n !== null) {
          changed.updated += n;
          break;
        }
      }
      if (referenced.has(table.name)) continue;
      const copied = table.columns
        .filter((c) => !c.generated && !key.includes(c.name))
        .map((c) => `"${c.name}"`);
      const inserted = await attempt(
        `insert into public.${table.name} (${copied.join(", ")}) select ${copied.join(", ")}
         from public.${table.name} where ${picked(every * 10, 1)}`,
      );
      changed.inserted += inserted ?? 0;
      changed.deleted +=
        (await attempt(`delete from public.${table.name} where ${picked(every * 10, 2)}`)) ?? 0;
    }
    await client.query("commit");
  } finally {
    await client.end();
  }
  return changed;
}

/**
 * The project's backup and restores of ACME in `url`, each beside PostgreSQL's own COPY of the same rows:
 * backup ÷ COPY TO | the product's compression, restore ÷ delete + COPY FROM. Prints one table headed `label`;
 * the backup is also shown against COPY TO | gzip at BACKUP_GZIP_LEVEL, the baseline of figures taken
 * before backups used zstd.
 */
async function sideBySide(
  url: string,
  dir: string,
  label: string,
  options: { edits?: boolean; rounds?: number } = {},
): Promise<{ url: string; files: string; backupId: string }> {
  const files = join(dir, "files");
  const copyDir = join(dir, "copy");
  const catalog = await catalogOf(url, files);
  const rows = await tenantRows(url, catalog);
  // The backup and its baseline, each BENCH_REPEAT times in turn (the machine is noisy); the last backup
  // writes into `files` (the restores below restore it), each other into a folder of its own, so that
  // none finds its chunks already stored. The folders stay until the run ends: files removed just before
  // make creating files slower for a while on ext4 (it skips inodes freed moments ago), which would
  // weigh on the runs after the first.
  const copyOuts: Result[] = [];
  const backups: Result[] = [];
  for (let i = 1; i <= REPEAT; i++) {
    copyOuts.push(await measure({ op: "copy-out", url, copyDir, catalog }));
    const into = i === REPEAT ? files : join(dir, `files-${i}`);
    backups.push(await measure({ op: "backup", url, backupDir: into }));
  }
  const copyOut = medianOf(copyOuts);
  const backup = { ...medianOf(backups), value: (backups.at(-1) as Result).value };
  const copyOutGzip = await measure({
    op: "copy-out",
    url,
    copyDir: join(dir, "copy-gzip"),
    catalog,
    codec: "gzip",
  });
  const backupId = backup.value.backupId;
  const restore = (dryRun: boolean) => measure({ op: "restore", url, backupDir: files, backupId, dryRun });
  // The restores and their baseline, each `restoreRepeat` times in turn; every round ends with the tenant
  // as backed up, so the next starts from the same rows.
  const restoreRepeat = Math.max(1, Number(process.env.BENCH_RESTORE_REPEAT ?? options.rounds ?? 1));
  const rounds: {
    copyIn: Result;
    overSame: Result;
    real: Result;
    edited: Result | null;
    intoEmpty: Result;
  }[] = [];
  let edits: Awaited<ReturnType<typeof changeShare>> | null = null;
  for (let i = 1; i <= restoreRepeat; i++) {
    await settle(url, catalog);
    const copyIn = await measure({ op: "copy-in", url, copyDir, catalog });
    await settle(url, catalog);
    const overSame = await restore(true);
    await settle(url, catalog);
    const real = await restore(false);
    // A day's worth of edits: 1 % of the rows changed, spread over the tables, restored back.
    edits = options.edits ? await changeShare(url, catalog, 0.01, i) : null;
    if (edits) await settle(url, catalog);
    const edited = edits ? await restore(false) : null;
    // Disaster recovery: the tenant's rows are gone and every row goes in again.
    await emptyTenant(url, catalog);
    await settle(url, catalog);
    rounds.push({ copyIn, overSame, real, edited, intoEmpty: await restore(false) });
  }
  const medianRound = <K extends keyof (typeof rounds)[0]>(key: K) =>
    medianOf(rounds.map((r) => r[key] as Result));
  const copyIn = medianRound("copyIn");
  const overSame = medianRound("overSame");
  const real = medianRound("real");
  const edited = edits ? medianRound("edited") : null;
  const intoEmpty = medianRound("intoEmpty");

  const rawMb = copyOut.value.rawBytes / 2 ** 20;
  const w = [42, 10, 11, 9, 9, 11];
  say();
  say(`${label}: ${fmt(rows)} rows over ${catalog.tables.length} tables, ${fmt(rawMb, 1)} MB as COPY text`);
  say(row(["operation", "time", "rows/s", "MB/s", "vs COPY", "peak RSS"], w));
  const line = (name: string, m: Result, base: Result | null) =>
    say(
      row(
        [
          name,
          secs(m.ms),
          fmt(rows / (m.ms / 1000)),
          fmt(rawMb / (m.ms / 1000), 1),
          base ? `${fmt(m.ms / base.ms, 2)}×` : "—",
          `${fmt(m.peakRssMb)} MB`,
        ],
        w,
      ),
    );
  line(`COPY TO | ${copyOut.value.codec} (baseline)`, copyOut, null);
  line("backup", backup, copyOut);
  if (REPEAT > 1) {
    const range = (runs: Result[]) => runs.map((r) => secs(r.ms)).join(", ");
    say(`  (medians of ${REPEAT} runs each, in turn: COPY ${range(copyOuts)}; backup ${range(backups)})`);
  }
  say(
    `  CPU, ${REPEAT > 1 ? "the median runs" : "one run each"}: COPY ${cpuOf(copyOut)}; backup ${cpuOf(backup)}`,
  );
  line(`COPY TO | ${copyOutGzip.value.codec} (earlier baseline)`, copyOutGzip, null);
  line("backup, against that", backup, copyOutGzip);
  line(`delete + COPY FROM, ${copyOut.value.codec} (baseline)`, copyIn, null);
  line("restore, dry run over unchanged data", overSame, copyIn);
  line("restore over unchanged data (+ undo)", real, copyIn);
  if (edits && edited) line("restore, 1 % of rows changed (+ undo)", edited, copyIn);
  line("restore into the emptied tenant (+ undo)", intoEmpty, copyIn);
  if (restoreRepeat > 1) {
    const range = (key: keyof (typeof rounds)[0]) =>
      rounds.map((r) => secs((r[key] as Result).ms)).join(", ");
    say(
      `  (medians of ${restoreRepeat} rounds, in turn: baseline ${range("copyIn")}; dry run ${range("overSame")}; ` +
        `over unchanged ${range("real")};${edits ? ` 1 % changed ${range("edited")};` : ""} into the emptied tenant ${range("intoEmpty")})`,
    );
  }
  say(
    `the backup stores ${fmt(backup.value.bytes / 2 ** 20, 1)} MB in ${fmt(backup.value.objects)} objects ` +
      `(chunks of ${fmt(backup.value.chunkTargetBytes / 1024)} KiB of row text aimed at: BACKUP_CHUNK_TARGET_BYTES)`,
  );
  say(`inside PostgreSQL, restore over unchanged data (ms): ${JSON.stringify(real.value.timings)}`);
  if (edits && edited) {
    say(
      `1 % changed: ${fmt(edits.updated)} rows updated, ${fmt(edits.inserted)} inserted, ${fmt(edits.deleted)} deleted; ` +
        `inside PostgreSQL (ms): ${JSON.stringify(edited.value.timings)}`,
    );
  }
  say(`inside PostgreSQL, restore into the emptied tenant (ms): ${JSON.stringify(intoEmpty.value.timings)}`);
  return { url, files, backupId };
}

/** gzip against zstd on the row stream of backup `backupId` in `files` (not the undo points beside it). */
async function compareCompression(at: { url: string; files: string; backupId: string }, label: string) {
  const { value } = await measure({
    op: "compression",
    url: at.url,
    backupDir: at.files,
    backupId: at.backupId,
  });
  const w = [10, 10, 10, 9];
  say();
  say(`compression of the backup's row stream, ${label} (${fmt(value.rawBytes / 2 ** 20, 1)} MB of lines):`);
  say(row(["codec", "time", "MB/s", "size"], w));
  for (const c of value.codecs as { name: string; ms: number; bytes: number }[]) {
    const mbs = value.rawBytes / 2 ** 20 / (c.ms / 1000);
    say(row([c.name, secs(c.ms), fmt(mbs, 1), `${fmt((100 * c.bytes) / value.rawBytes, 1)} %`], w));
  }
}

async function main() {
  // Dependencies stay in node_modules, found from .data/bench as a deployed bundle finds its own.
  await build({
    entryPoints: [OPERATION_SOURCE],
    outfile: OPERATION,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node22",
    packages: "external",
    logLevel: "warning",
  });
  const work = await mkdtemp(join(tmpdir(), "tenant-backup-bench-"));
  const server = await startEmbeddedPostgres({ dataDir: join(work, "pg"), fast: true });
  try {
    say(`tenant-backup benchmark, ${new Date().toISOString().slice(0, 10)}`);
    say(
      `machine: ${cpus()[0]?.model ?? "?"}, ${cpus().length} cores, ${fmt(totalmem() / 2 ** 30)} GiB; ` +
        `node ${process.version}; PostgreSQL from embedded-postgres, fsync off for every side`,
    );
    say(
      process.env.BENCH_SETTLE === "0"
        ? "each restore and its baseline timed right after the step before (BENCH_SETTLE=0)"
        : "each restore and its baseline timed on a settled database: its tables vacuumed, a checkpoint taken",
    );

    await core(server, work);
    // 4. The chunked layout: what 30 daily backups store, and its compression.
    if (runs("chunks")) {
      const dedupeRows = QUICK ? 20_000 : 100_000;
      say();
      say(`chunked layout, a tenant of about ${fmt(dedupeRows)} rows:`);
      await benchDedupe(
        {
          appended: await demoDatabase(server, "bench_dedupe_a", dedupeRows),
          scattered: await demoDatabase(server, "bench_dedupe_s", dedupeRows),
        },
        (name) => join(work, `files-dedupe-${name}`),
        ACME,
        dedupeRows,
        say,
      );
    }
  } finally {
    await server.stop();
    await rm(work, { recursive: true, force: true });
  }
}

/** The sections beside COPY and the scaling steps, each when BENCH_ONLY lets it run. */
async function core(server: RunningPostgres, work: string) {
  // 1. The large tenant, side by side with COPY.
  if (runs("main")) {
    console.error(`building a tenant of about ${fmt(ROWS)} rows …`);
    const url = await demoDatabase(server, "bench_main", ROWS);
    const idle = await measure({ op: "idle", url, backupDir: join(work, "files-idle") });
    const made = await sideBySide(url, join(work, "main"), "largest tenant", { edits: true, rounds: 3 });
    await compareCompression(made, "demo data");
    say(`a process that only loads the modules: ${fmt(idle.peakRssMb)} MB peak RSS`);
  }

  // Awkward shapes, each side by side with COPY: rows holding 5 MB values, a table without a key.
  if (runs("values")) {
    const count = QUICK ? 8 : 20;
    console.error(`building ${count} rows of 5 MB jsonb + 5 MB bytea …`);
    const made = await sideBySide(
      await largeValuesDatabase(server, count),
      join(work, "values"),
      "5 MB values",
    );
    await compareCompression(made, "5 MB values");
  }
  if (runs("nopk")) {
    for (const keyed of [false, true]) {
      const label = keyed ? "the same table with a primary key" : "a table without a primary key";
      console.error(`building ${label}, ${fmt(ROWS)} rows …`);
      const url = await eventsDatabase(server, keyed, ROWS);
      await sideBySide(url, join(work, keyed ? "keyed" : "nopk"), label);
    }
  }

  // Many columns, then many tables: two sizes each, to show that cost grows with rows (and tables) alone.
  if (runs("wide")) {
    const sizes = QUICK ? [10_000, 20_000] : [25_000, 50_000];
    for (const rows of sizes) {
      console.error(`building a table of ${WIDE_COLUMNS} columns, ${fmt(rows)} rows …`);
      const url = await prepared(await freshDatabase(server, `bench_wide_${rows}`), (c) =>
        fillWide(c, ACME, rows),
      );
      // With a day's edits: typing the changed rows' 200 values is where this table costs most.
      const made = await sideBySide(url, join(work, `wide-${rows}`), `a table of ${WIDE_COLUMNS} columns`, {
        edits: true,
      });
      // The codecs again on types the demo data has few of: numerics, timestamps, uuids, jsonb, arrays, bytea.
      if (rows === sizes.at(-1)) await compareCompression(made, `${WIDE_COLUMNS} columns of mixed types`);
    }
  }
  if (runs("tables")) {
    const rowsEach = QUICK ? 100 : 300;
    for (const count of QUICK ? [100, 300] : [150, 300]) {
      console.error(`building ${count} tenant tables of about ${rowsEach} rows …`);
      const url = await prepared(await freshDatabase(server, `bench_tables_${count}`), (c) =>
        fillTables(c, ACME, count, rowsEach),
      );
      await sideBySide(url, join(work, `tables-${count}`), `${count} tenant tables`);
    }
  }

  // The Supabase API path: requests and bytes per 100,000 rows, time against the direct connection.
  if (runs("postgrest")) {
    await benchPostgrest(server, work, {
      direct: (args) => measure(args),
      tenantId: ACME,
      date: utcDay(new Date()),
      rowsPerScale: ROWS_PER_SCALE,
      say,
      fmt,
      row,
    });
  }

  // 2. How cost grows with the number of tenants: the daily run, about 1,000 rows each.
  if (runs("daily")) {
    say();
    say("daily run over many tenants, about 1,000 rows each:");
    const w2 = [10, 10, 12, 11];
    say(row(["tenants", "time", "ms/tenant", "peak RSS"], w2));
    for (const tenants of QUICK ? [1, 10, 30] : [1, 10, 100]) {
      const manyUrl = await manyTenantsDatabase(server, `bench_many_${tenants}`, tenants, 1000);
      const run = await measure({
        op: "daily",
        url: manyUrl,
        backupDir: join(work, `files-many-${tenants}`),
      });
      say(row([String(tenants), secs(run.ms), fmt(run.ms / tenants), `${fmt(run.peakRssMb)} MB`], w2));
      if (tenants === 1 || process.env.BENCH_CALLS)
        say(`  round trips: ${callsPerTenant(run.value.calls, tenants)}`);
    }
  }

  // Many small tenants shared by N calls started together (work items), each backing up a few at a time.
  if (runs("fanout")) {
    const tenants = Number(process.env.BENCH_DAILY_TENANTS ?? 10_000);
    const rowsEach = Number(process.env.BENCH_DAILY_ROWS ?? 100);
    console.error(`building ${fmt(tenants)} tenants of about ${rowsEach} rows …`);
    const local = await manyTenantsDatabase(server, "bench_fanout", tenants, rowsEach);
    // A network's round trip to the database, and a remote storage's wait per request, when asked for.
    const latencyMs = Number(process.env.BENCH_LATENCY_MS ?? 0);
    const storageDelayMs = Number(process.env.BENCH_STORAGE_MS ?? 0);
    const proxy = latencyMs > 0 ? await startLatencyProxy(Number(new URL(server.url).port), latencyMs) : null;
    const url = proxy ? withPort(local, proxy.port) : local;
    say();
    say(`daily run, ${fmt(tenants)} tenants of about ${rowsEach} rows, N calls started together:`);
    if (proxy || storageDelayMs > 0) {
      say(`  ${fmt(latencyMs, 1)} ms a database round trip, ${fmt(storageDelayMs, 1)} ms a storage request`);
    }
    const w = [6, 6, 10, 10, 12, 14, 10];
    say(row(["calls", "pool", "time", "ms/tenant", "round trips", "per call", "peak RSS"], w));
    const calls = (process.env.BENCH_FANOUT_CALLS ?? "1,2,4").split(",").map(Number);
    const pools = (process.env.BENCH_FANOUT_POOL ?? "4").split(",").map(Number);
    try {
      for (const pool of pools) {
        for (const n of calls) {
          await resetRuns(local);
          const started = performance.now();
          const results = await Promise.all(
            Array.from({ length: n }, () =>
              measure({
                op: "daily-share",
                url,
                backupDir: join(work, `files-fanout-${n}-${pool}`),
                tenantConcurrency: pool,
                storageDelayMs,
              }),
            ),
          );
          const ms = performance.now() - started;
          const done = results.reduce((sum, r) => sum + r.value.completed, 0);
          if (done !== tenants) throw new Error(`${done} of ${tenants} tenants backed up`);
          // Round trips: the statements sent to the database, and the storage's requests.
          const trips = results.reduce((sum, r) => {
            const { statements, kinds } = splitCounts(r.value.calls as Record<string, number>);
            const storage = Object.entries(kinds).filter(([k]) => k.startsWith("storage "));
            return sum + statements + storage.reduce((n, [, c]) => n + c, 0);
          }, 0);
          const share = results.map((r) => r.value.completed).join("/");
          say(
            row(
              [
                String(n),
                String(pool),
                secs(ms),
                fmt(ms / tenants, 1),
                `${fmt(trips / tenants, 1)}/tenant`,
                share,
                `${fmt(Math.max(...results.map((r) => r.peakRssMb)))} MB`,
              ],
              w,
            ),
          );
          if (process.env.BENCH_CALLS) {
            const merged: Record<string, number> = {};
            for (const r of results) {
              for (const [k, c] of Object.entries(r.value.calls as Record<string, number>))
                merged[k] = (merged[k] ?? 0) + c;
            }
            say(`  round trips: ${callsPerTenant(merged, tenants)}`);
          }
        }
      }
    } finally {
      await proxy?.close();
    }
  }

  // 3. How cost grows with one tenant's size.
  if (runs("sizes")) {
    say();
    say("one tenant of growing size (demo schema):");
    const w3 = [10, 10, 10, 11, 13, 12];
    say(row(["rows", "backup", "rows/s", "peak RSS", "restore (dry)", "peak RSS"], w3));
    for (const size of QUICK ? [10_000, 100_000] : [10_000, 100_000, 1_000_000]) {
      const sizedUrl = await demoDatabase(server, `bench_size_${size}`, size);
      const dir = join(work, `files-size-${size}`);
      const b = await measure({ op: "backup", url: sizedUrl, backupDir: dir });
      const r = await measure({ op: "restore", url: sizedUrl, backupDir: dir, backupId: b.value.backupId });
      const n = b.value.records as number;
      say(
        row(
          [
            fmt(n),
            secs(b.ms),
            fmt(n / (b.ms / 1000)),
            `${fmt(b.peakRssMb)} MB`,
            secs(r.ms),
            `${fmt(r.peakRssMb)} MB`,
          ],
          w3,
        ),
      );
    }
  }
}

await main();
