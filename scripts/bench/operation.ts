/**
 * One measured operation of the benchmark, in a process of its own, so that its peak memory is that of a
 * process doing only this — as a function instance would — and not what earlier steps left behind.
 * Reads its arguments as JSON from the file BENCH_ARGS_FILE; prints one JSON line: { ms, peakRssMb, cpu, value }
 * (cpu: see cpu-time.ts).
 */
import { createReadStream, createWriteStream, readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { setTimeout as delay } from "node:timers/promises";
import {
  constants,
  createGunzip,
  createGzip,
  createZstdCompress,
  createZstdDecompress,
  gzipSync,
  zstdCompressSync,
} from "node:zlib";
import pg from "pg";
import { from as copyFrom, to as copyTo } from "pg-copy-streams";
import { runDailyBackup } from "../../lib/backup/daily.ts";
import { tableObjects } from "../../lib/backup/manifest.ts";
import { readVerifiedPages } from "../../lib/backup/reader.ts";
import { backupTenant } from "../../lib/backup/tenant-backup.ts";
import type { Catalog } from "../../lib/catalog.ts";
import { ZSTD_LEVEL } from "../../lib/chunks/codec.ts";
import { loadConfig } from "../../lib/config.ts";
import type { HeldSnapshot } from "../../lib/db/port.ts";
import { createLogger } from "../../lib/logger.ts";
import { pickBackupForRestore } from "../../lib/restore/pick-backup.ts";
import { restoreTenant } from "../../lib/restore/restore-tenant.ts";
import { createServices, type Services } from "../../lib/services.ts";
import { chunkTargetSetting } from "./chunk-target.ts";
import { startCpuTime } from "./cpu-time.ts";
import { STATEMENTS } from "./round-trips.ts";

export interface OperationArgs {
  op: "idle" | "copy-out" | "copy-in" | "backup" | "restore" | "daily" | "daily-share" | "compression";
  /** daily-share: BACKUP_TENANT_CONCURRENCY of the call. */
  tenantConcurrency?: number;
  /** daily-share: milliseconds each storage request waits before it is made (a remote storage's latency). */
  storageDelayMs?: number;
  url: string;
  backupDir: string;
  tenantId: string;
  date: string;
  /** copy-out / copy-in: where COPY's compressed output is kept. */
  copyDir?: string;
  /** copy-out: "gzip" for gzip at BACKUP_GZIP_LEVEL instead of the product's codec (see productCodec). */
  codec?: "product" | "gzip";
  catalog?: Catalog;
  backupId?: string;
  dryRun?: boolean;
}

const HOUR = 3_600_000;

/** The configuration every measured operation runs with. */
function configOf(args: OperationArgs) {
  return loadConfig({
    DATABASE_URL: args.url,
    BACKUP_DIR: args.backupDir || (args.copyDir as string),
    CRON_SECRET: "bench-secret-not-used-0123456789",
    LOG_LEVEL: "warn",
    BACKUP_TIME_BUDGET_MS: String(HOUR),
    RESTORE_MIN_INTERVAL_SECONDS: "0",
    MANUAL_BACKUP_MIN_INTERVAL_SECONDS: "0",
    ...(args.tenantConcurrency ? { BACKUP_TENANT_CONCURRENCY: String(args.tenantConcurrency) } : {}),
    ...chunkTargetSetting(),
  });
}

function services(args: OperationArgs): Services {
  return createServices(configOf(args), { log: createLogger({ level: "warn" }) });
}

const literalScope = (catalog: Catalog, table: string, tenantId: string) =>
  (catalog.tables.find((t) => t.name === table)?.scope ?? "false").replace("$1::", `'${tenantId}'::`);

/** The table's stored columns (generated ones are not written back), quoted and comma separated. */
const storedList = (catalog: Catalog, table: string) =>
  (catalog.tables.find((t) => t.name === table)?.columns ?? [])
    .filter((c) => !c.generated)
    .map((c) => `"${c.name}"`)
    .join(", ");

/**
 * The compression the product stores table data with, for the baselines: zstd at the level of
 * lib/chunks/codec.ts in either layout (chunks, and per-backup files since they are zstd too); or, when
 * `codec` says so, gzip at BACKUP_GZIP_LEVEL (the baseline of earlier figures, for comparison).
 */
function productCodec(args: OperationArgs) {
  const { gzipLevel } = configOf(args).backup;
  return args.codec !== "gzip"
    ? {
        name: `zstd ${ZSTD_LEVEL}`,
        compress: () => createZstdCompress({ params: { [constants.ZSTD_c_compressionLevel]: ZSTD_LEVEL } }),
        decompress: () => createZstdDecompress(),
      }
    : {
        name: `gzip ${gzipLevel}`,
        compress: () => createGzip({ level: gzipLevel }),
        decompress: createGunzip,
      };
}

/**
 * PostgreSQL's own export: COPY … TO of the tenant's rows of every table (its stored columns, what the
 * backup holds), through the product's compression (codec and level), to files.
 */
async function copyOut(args: OperationArgs) {
  const catalog = args.catalog as Catalog;
  const codec = productCodec(args);
  await mkdir(args.copyDir as string, { recursive: true });
  const client = new pg.Client({ connectionString: args.url });
  await client.connect();
  let raw = 0;
  try {
    for (const table of catalog.tables) {
      const scope = literalScope(catalog, table.name, args.tenantId);
      const source = client.query(
        copyTo(
          `copy (select ${storedList(catalog, table.name)} from public.${table.name} t0 where ${scope}) to stdout`,
        ),
      );
      source.on("data", (chunk: Buffer) => {
        raw += chunk.length;
      });
      await pipeline(source, codec.compress(), createWriteStream(join(args.copyDir as string, table.name)));
    }
  } finally {
    await client.end();
  }
  return { rawBytes: raw, codec: codec.name };
}

/**
 * What a COPY-based restore does: delete the tenant's rows, COPY the saved rows straight into the tables
 * (`COPY t (stored columns) FROM`), one transaction, in replica mode.
 */
async function copyIn(args: OperationArgs) {
  const catalog = args.catalog as Catalog;
  const client = new pg.Client({ connectionString: args.url });
  await client.connect();
  try {
    await client.query("begin");
    await client.query("set local session_replication_role = replica");
    for (const table of [...catalog.tables].reverse()) {
      await client.query(`delete from public.${table.name} t0 where ${table.scope}`, [args.tenantId]);
    }
    for (const table of catalog.tables) {
      const file = createReadStream(join(args.copyDir as string, table.name));
      const copy = `copy public.${table.name} (${storedList(catalog, table.name)}) from stdin`;
      await pipeline(file, productCodec(args).decompress(), client.query(copyFrom(copy)));
    }
    await client.query("commit");
  } catch (err) {
    await client.query("rollback").catch(() => {});
    throw err;
  } finally {
    await client.end();
  }
  return {};
}

/**
 * The row stream of backup `backupId` (every file of its manifest, read back as a restore reads it, in
 * either layout) compressed again by gzip and zstd (Node's zlib) at a few levels: milliseconds and bytes
 * of each, file by file as a backup of files would.
 */
async function compression(args: OperationArgs) {
  const s = services(args);
  const raw: Buffer[] = [];
  try {
    const { manifest } = await pickBackupForRestore(s.storage, args.tenantId, args.date, args.backupId);
    for (const file of manifest.tables.flatMap((t) => t.files)) {
      const pages: Buffer[] = [];
      for await (const page of readVerifiedPages(s.storage, file, { maxRows: 100_000, maxBytes: 2 ** 24 })) {
        pages.push(...page.data, Buffer.from("\n"));
      }
      raw.push(Buffer.concat(pages));
    }
  } finally {
    await s.close();
  }
  const codecs: [string, (b: Buffer) => Buffer][] = [
    ...[1, 4, 6].map((level): [string, (b: Buffer) => Buffer] => [
      `gzip ${level}`,
      (b) => gzipSync(b, { level }),
    ]),
    ...[1, 3, 6].map((level): [string, (b: Buffer) => Buffer] => [
      `zstd ${level}`,
      (b) => zstdCompressSync(b, { params: { [constants.ZSTD_c_compressionLevel]: level } }),
    ]),
  ];
  const rawBytes = raw.reduce((n, b) => n + b.length, 0);
  return {
    rawBytes,
    codecs: codecs.map(([name, compress]) => {
      const started = performance.now();
      const bytes = raw.reduce((n, b) => n + compress(b).length, 0);
      return { name, ms: performance.now() - started, bytes };
    }),
  };
}

/**
 * Counts what an operation asks of the database and the storage, by kind: each SQL function call (one
 * PostgREST request on that path), each COPY stream or held moment (direct path only), each storage request.
 * `statements` counts the database's round trips themselves: every statement sent on a connection, the
 * ones a COPY or a held moment sends around it (begin, the snapshot, settings, commit) included.
 */
function countCalls(s: Services): Record<string, number> {
  const counts: Record<string, number> = { [STATEMENTS]: 0 };
  const add = (kind: string) => {
    counts[kind] = (counts[kind] ?? 0) + 1;
  };
  const query = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client, ...a: unknown[]) {
    add(STATEMENTS);
    return (query as (...b: unknown[]) => unknown).apply(this, a);
  } as typeof query;
  const caller = s.db.caller;
  const call = caller.call.bind(caller);
  caller.call = <T>(name: string, fnArgs: Record<string, unknown>) => {
    add(`sql ${name}`);
    return call<T>(name, fnArgs);
  };
  for (const method of ["copyOut", "copyText", "holdSnapshot"] as const) {
    const original = caller[method]?.bind(caller) as ((...a: unknown[]) => Promise<never>) | undefined;
    if (original) {
      (caller as unknown as Record<string, unknown>)[method] = async (...a: unknown[]) => {
        add(`db ${method}`);
        const answer = (await original(...a)) as { call?: HeldSnapshot["call"] } | undefined;
        // A held moment answers our functions inside its transaction: each is a round trip too.
        const inner = answer?.call?.bind(answer);
        if (answer && inner) {
          answer.call = <T>(name: string, fnArgs: Record<string, unknown>) => {
            add(`sql ${name} (held)`);
            return inner<T>(name, fnArgs);
          };
        }
        return answer;
      };
    }
  }
  const storage = s.storage as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
  for (const method of ["put", "get", "list", "remove", "getStream"]) {
    const original = storage[method]?.bind(storage);
    if (original) {
      storage[method] = (...a: unknown[]) => {
        add(`storage ${method}`);
        return original(...a);
      };
    }
  }
  return counts;
}

/**
 * Makes each storage request wait `ms` first: the bench's stand-in for a request to Supabase Storage or S3,
 * whose time is mostly the network's and the service's, whatever the (small) object's size.
 */
function delayStorage(s: Services, ms: number): void {
  const storage = s.storage as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
  for (const method of ["put", "get", "list", "remove", "getStream"]) {
    const original = storage[method]?.bind(storage);
    if (original) storage[method] = (...a: unknown[]) => delay(ms).then(() => original(...a));
  }
}

async function run(args: OperationArgs): Promise<unknown> {
  switch (args.op) {
    case "idle":
      // Loads the same modules as the others and does nothing: the floor under every figure.
      services(args);
      return {};
    case "copy-out":
      return copyOut(args);
    case "copy-in":
      return copyIn(args);
    case "compression":
      return compression(args);
    case "backup": {
      const s = services(args);
      try {
        const result = await backupTenant(s, {
          tenantId: args.tenantId,
          tenantName: null,
          type: "manual",
          date: args.date,
          deadline: s.now().getTime() + HOUR,
        });
        return {
          backupId: result.backupId,
          records: result.records,
          bytes: result.bytes,
          objects: result.status === "completed" ? tableObjects(result.manifest).length : null,
          chunkTargetBytes: s.config.backup.chunkTargetBytes,
        };
      } finally {
        await s.close();
      }
    }
    case "restore": {
      const s = services(args);
      try {
        const outcome = await restoreTenant(s, {
          tenantId: args.tenantId,
          backupDate: args.date,
          backupId: args.backupId,
          dryRun: args.dryRun ?? true,
          deadline: s.now().getTime() + HOUR,
        });
        if (outcome.status !== "done" || !outcome.report.success) {
          throw new Error(
            `restore did not succeed: ${JSON.stringify(outcome.status === "done" ? outcome.report.error : outcome)}`,
          );
        }
        return { timings: outcome.report.timings_ms, mode: outcome.report.mode };
      } finally {
        await s.close();
      }
    }
    case "daily": {
      const s = services(args);
      const calls = countCalls(s);
      try {
        const result = await runDailyBackup(s, { deadline: s.now().getTime() + HOUR });
        if (!result.complete) throw new Error("daily run did not complete");
        return { tenants: result.total_tenants, records: result.total_records, calls };
      } finally {
        await s.close();
      }
    }
    case "daily-share": {
      // One of several calls started together: it backs up what it claims; the others do the rest.
      const s = services(args);
      const calls = countCalls(s);
      if (args.storageDelayMs) delayStorage(s, args.storageDelayMs);
      try {
        const result = await runDailyBackup(s, { deadline: s.now().getTime() + HOUR });
        if (result.failed_tenants > 0) throw new Error(`${result.failed_tenants} tenants failed`);
        const completed = result.tenants.filter((t) => t.status === "completed").length;
        return { completed, calls };
      } finally {
        await s.close();
      }
    }
  }
}

const args = JSON.parse(readFileSync(process.env.BENCH_ARGS_FILE as string, "utf8")) as OperationArgs;
const counting = await startCpuTime(args.url);
const started = performance.now();
const value = await run(args);
const ms = performance.now() - started;
const cpu = await counting.stop();
process.stdout.write(
  `${JSON.stringify({ ms, peakRssMb: process.resourceUsage().maxRSS / 1024, cpu, value })}\n`,
);
