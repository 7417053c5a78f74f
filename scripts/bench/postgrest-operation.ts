/**
 * One measured operation of the benchmark's PostgREST section, in a process of its own: a backup or a real
 * restore of one tenant through the Supabase API path (supabase-js rpc() → PostgREST → our SQL), as a
 * project without DATABASE_URL runs it. PostgREST is the test suite's fake (tests/db/fake-postgrest.ts):
 * each request runs in the real database as service_role through `authenticator`, in its own
 * transaction, under the statement timeouts Supabase sets. It counts every request and its bytes, by
 * function: what was sent (the JSON arguments supabase-js posts) and what came back (the JSON body).
 * Reads its arguments as JSON from BENCH_ARGS; prints one JSON line: { ms, peakRssMb, value }.
 */
import { setupServer } from "msw/node";
import { backupTenant } from "../../lib/backup/tenant-backup.ts";
import { loadConfig } from "../../lib/config.ts";
import { createLogger } from "../../lib/logger.ts";
import { restoreTenant } from "../../lib/restore/restore-tenant.ts";
import { createServices } from "../../lib/services.ts";
import { createFakePostgrest } from "../../tests/db/fake-postgrest.ts";
import { PROJECT_JWT_SECRET, projectKeys } from "../../tests/db/supabase-keys.ts";

export interface PostgrestArgs {
  op: "backup" | "restore";
  /** PostgREST's login (`authenticator`) to the bench database. */
  authenticatorUrl: string;
  backupDir: string;
  tenantId: string;
  date: string;
  /** restore: the backup to restore (a real restore, over the tenant as it is). */
  backupId?: string;
  /** Extra settings of the measured configuration (e.g. BACKUP_PAGE_BYTES). */
  env?: Record<string, string>;
}

/** Requests and bytes of one function. */
export interface Traffic {
  calls: number;
  sentBytes: number;
  receivedBytes: number;
}

const PROJECT_URL = "https://bench-project.supabase.co";
const HOUR = 3_600_000;

async function run(args: PostgrestArgs) {
  const keys = await projectKeys();
  const fake = createFakePostgrest({
    url: PROJECT_URL,
    apiKeys: [keys.anon, keys.serviceRole],
    jwtSecret: PROJECT_JWT_SECRET,
    databaseUrl: args.authenticatorUrl,
  });
  const server = setupServer(...fake.handlers);
  server.listen({ onUnhandledRequest: "error" });
  const services = createServices(
    loadConfig({
      SUPABASE_URL: PROJECT_URL,
      SUPABASE_SERVICE_ROLE_KEY: keys.serviceRole,
      BACKUP_STORAGE: "local",
      BACKUP_DIR: args.backupDir,
      LOG_LEVEL: "warn",
      BACKUP_TIME_BUDGET_MS: String(HOUR),
      RESTORE_MIN_INTERVAL_SECONDS: "0",
      MANUAL_BACKUP_MIN_INTERVAL_SECONDS: "0",
      // One call restores the whole tenant here: the bench measures the traffic, not the call's limit.
      RESTORE_API_APPLY_LIMIT_MS: String(HOUR),
      ...args.env,
    }),
    { log: createLogger({ level: "warn" }) },
  );
  try {
    let result: unknown;
    if (args.op === "backup") {
      const backup = await backupTenant(services, {
        tenantId: args.tenantId,
        tenantName: null,
        type: "manual",
        date: args.date,
        deadline: services.now().getTime() + HOUR,
      });
      if (backup.status !== "completed") throw new Error("backup did not complete");
      result = { backupId: backup.backupId, records: backup.records };
    } else {
      const outcome = await restoreTenant(services, {
        tenantId: args.tenantId,
        backupDate: args.date,
        backupId: args.backupId,
        dryRun: false,
        deadline: services.now().getTime() + HOUR,
      });
      if (outcome.status !== "done" || !outcome.report.success) {
        throw new Error(`restore did not succeed: ${JSON.stringify(outcome)}`.slice(0, 2000));
      }
      result = { undoBackupId: outcome.undoBackupId };
    }
    const traffic: Record<string, Traffic> = {};
    for (const call of fake.calls) {
      if (call.status !== 200)
        throw new Error(`${call.fn} answered ${call.status}: ${call.body.slice(0, 500)}`);
      const t = traffic[call.fn] ?? { calls: 0, sentBytes: 0, receivedBytes: 0 };
      traffic[call.fn] = t;
      t.calls += 1;
      t.sentBytes += Buffer.byteLength(JSON.stringify(call.args ?? {}));
      t.receivedBytes += Buffer.byteLength(call.body);
    }
    return { ...(result as object), traffic };
  } finally {
    await services.close();
    server.close();
    await fake.close();
  }
}

const args = JSON.parse(process.env.BENCH_ARGS ?? "{}") as PostgrestArgs;
const started = performance.now();
const value = await run(args);
const ms = performance.now() - started;
process.stdout.write(`${JSON.stringify({ ms, peakRssMb: process.resourceUsage().maxRSS / 1024, value })}\n`);
