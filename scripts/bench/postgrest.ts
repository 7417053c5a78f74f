/**
 * The benchmark's `postgrest` section: a tenant of the demo schema backed up and restored through the
 * Supabase API path (PostgREST, as on a project without DATABASE_URL) beside the same work on the direct
 * connection, in a database set up as Supabase's is (the API roles, `authenticator`, a non-superuser
 * owner). It reports the requests and their bytes by function, per 100,000 rows of the tenant, and the
 * time of each path. Two sizes show whether requests grow with rows alone.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { build } from "esbuild";
import pg from "pg";
import { installClusterRoles, installSupabaseDefaults, OWNER, urlAs } from "../../tests/support/roles.ts";
import { installDemo } from "../demo/install.ts";
import type { RunningPostgres } from "../embedded-postgres.ts";
import { applyMigrations } from "../migrate.ts";
import type { PostgrestArgs, Traffic } from "./postgrest-operation.ts";

const SOURCE = fileURLToPath(new URL("./postgrest-operation.ts", import.meta.url));
/** The functions that carry rows: backup pages read, restore pages staged, undo pages read back. */
const PAGED = new Set(["tenant_backup_snapshot_page", "tenant_backup_stage_page", "tenant_backup_undo_read"]);
const BUNDLE = fileURLToPath(new URL("../../.data/bench/postgrest-operation.mjs", import.meta.url));

interface Measured {
  ms: number;
  peakRssMb: number;
  // biome-ignore lint/suspicious/noExplicitAny: each operation answers its own shape
  value: any;
}

export interface SectionTools {
  /** Runs an operation of operation.ts (the direct path) in a process of its own. */
  direct(args: {
    op: "backup" | "restore";
    url: string;
    backupDir: string;
    backupId?: string;
    dryRun?: boolean;
  }): Promise<Measured>;
  tenantId: string;
  date: string;
  rowsPerScale: number;
  say(line?: string): void;
  fmt(n: number, digits?: number): string;
  row(cells: string[], widths: number[]): string;
}

async function overPostgrest(args: PostgrestArgs): Promise<Measured> {
  const { stdout } = await promisify(execFile)(process.execPath, [BUNDLE], {
    env: { ...process.env, BENCH_ARGS: JSON.stringify(args) },
    maxBuffer: 16 * 1024 * 1024,
  });
  return JSON.parse(stdout.trim().split("\n").at(-1) as string) as Measured;
}

/** The demo app at about `rows` rows for the first tenant, installed as a hosted project has it. */
async function supabaseLikeDatabase(
  server: RunningPostgres,
  name: string,
  rows: number,
  rowsPerScale: number,
) {
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  try {
    await installClusterRoles(admin);
    await admin.query(`drop database if exists ${name} with (force)`);
    await admin.query(`create database ${name} owner ${OWNER}`);
  } finally {
    await admin.end();
  }
  const ownerUrl = urlAs(server.url, OWNER, name);
  const owner = new pg.Client({ connectionString: ownerUrl });
  await owner.connect();
  try {
    await installSupabaseDefaults(owner);
    await installDemo(owner, { scale: rows / rowsPerScale });
    await applyMigrations(owner);
    await owner.query("vacuum analyze");
  } finally {
    await owner.end();
  }
  return { ownerUrl, authenticatorUrl: urlAs(server.url, "authenticator", name) };
}

export async function benchPostgrest(server: RunningPostgres, work: string, tools: SectionTools) {
  const { say, fmt, row } = tools;
  await build({
    entryPoints: [SOURCE],
    outfile: BUNDLE,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node22",
    packages: "external",
    logLevel: "warning",
  });
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => /^BACKUP_PAGE_/.test(k)) as [string, string][],
  );
  const sizes = (process.env.BENCH_POSTGREST_ROWS ?? "50000,100000").split(",").map(Number);
  for (const size of sizes) {
    console.error(`building a Supabase-like database, a tenant of about ${fmt(size)} rows …`);
    const db = await supabaseLikeDatabase(server, `bench_postgrest_${size}`, size, tools.rowsPerScale);
    const dir = join(work, `postgrest-${size}`);
    const common = { tenantId: tools.tenantId, date: tools.date, env };
    const directBackup = await tools.direct({
      op: "backup",
      url: db.ownerUrl,
      backupDir: join(dir, "direct"),
    });
    const directRestore = await tools.direct({
      op: "restore",
      url: db.ownerUrl,
      backupDir: join(dir, "direct"),
      backupId: directBackup.value.backupId,
      dryRun: false,
    });
    const backupDir = join(dir, "api");
    const apiBackup = await overPostgrest({
      op: "backup",
      authenticatorUrl: db.authenticatorUrl,
      backupDir,
      ...common,
    });
    const apiRestore = await overPostgrest({
      op: "restore",
      authenticatorUrl: db.authenticatorUrl,
      backupDir,
      backupId: apiBackup.value.backupId,
      ...common,
    });
    const rows = apiBackup.value.records as number;
    const per100k = 100_000 / rows;
    say();
    say(
      `PostgREST path, a tenant of ${fmt(rows)} rows (demo schema)` +
        (Object.keys(env).length
          ? `, ${Object.entries(env)
              .map(([k, v]) => `${k}=${v}`)
              .join(" ")}`
          : "") +
        ":",
    );
    const w = [38, 10, 12, 10];
    say(row(["operation", "direct", "PostgREST", "ratio"], w));
    for (const [name, d, a] of [
      ["backup", directBackup, apiBackup],
      ["restore over unchanged data (+ undo)", directRestore, apiRestore],
    ] as const) {
      say(row([name, `${fmt(d.ms / 1000, 2)} s`, `${fmt(a.ms / 1000, 2)} s`, `${fmt(a.ms / d.ms, 2)}×`], w));
    }
    const wt = [36, 8, 14, 10, 12, 12];
    say(row(["requests (PostgREST)", "calls", "per 100k rows", "MB sent", "MB received", "MB per call"], wt));
    for (const [label, traffic] of [
      ["backup", apiBackup.value.traffic],
      ["restore", apiRestore.value.traffic],
    ] as const) {
      const all = Object.entries(traffic as Record<string, Traffic>);
      const paged = all.filter(([fn]) => PAGED.has(fn));
      const others = all.filter(([fn]) => !PAGED.has(fn));
      const sum = (list: [string, Traffic][]): Traffic =>
        list.reduce(
          (s, [, t]) => ({
            calls: s.calls + t.calls,
            sentBytes: s.sentBytes + t.sentBytes,
            receivedBytes: s.receivedBytes + t.receivedBytes,
          }),
          { calls: 0, sentBytes: 0, receivedBytes: 0 },
        );
      const lines: [string, Traffic][] = [
        ...paged,
        [`other (${others.length} functions)`, sum(others)],
        ["in all", sum(all)],
      ];
      for (const [name, t] of lines) {
        const mb = (b: number) => fmt(b / 2 ** 20, 2);
        say(
          row(
            [
              `${label} ${name.replace(/^tenant_backup_/, "")}`,
              fmt(t.calls),
              fmt(t.calls * per100k, 1),
              mb(t.sentBytes),
              mb(t.receivedBytes),
              mb((t.sentBytes + t.receivedBytes) / t.calls),
            ],
            wt,
          ),
        );
      }
    }
  }
}
