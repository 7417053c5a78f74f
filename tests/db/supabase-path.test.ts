/**
 * The Supabase path (supabase-js rpc() → PostgREST → our SQL functions) against the direct path (pg →
 * the same functions), on the same real database: a backup through either must write the same files,
 * and every failure must come out as the same DatabaseError. PostgREST is the msw fake in
 * fake-postgrest.ts, which runs each call in the test database.
 */
import { readFileSync } from "node:fs";
import { createClient, type SupabaseClientOptions } from "@supabase/supabase-js";
import { HttpResponse, http } from "msw";
import { type SetupServer, setupServer } from "msw/node";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { readManifest } from "../../lib/backup/reader.ts";
import { backupTenant } from "../../lib/backup/tenant-backup.ts";
import { DatabaseError, type SqlFunctionCaller } from "../../lib/db/port.ts";
import { PostgresCaller } from "../../lib/db/postgres.ts";
import { withDatabaseRetries } from "../../lib/db/retrying.ts";
import { SupabaseCaller } from "../../lib/db/supabase.ts";
import { TenantDb } from "../../lib/db/tenant-db.ts";
import { createSupabaseClient } from "../../lib/supabase-client.ts";
import { parseRows, readVerifiedFile } from "../support/backup-files.ts";
import { deadlineIn } from "../support/clock.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { databaseErrorOf } from "../support/database-error.ts";
import { createTestServices, type TestServices } from "../support/services.ts";
import { createFakePostgrest } from "./fake-postgrest.ts";
import { PROJECT_JWT_SECRET, type ProjectKeys, projectKeys } from "./supabase-keys.ts";

const PROJECT_URL = "https://fake-project.supabase.co";
const PAGE_ROWS = 100;
const DATE = "2026-11-22";
const LAYOUT = {
  TENANT_ROOT_TABLE: "tenants",
  TENANT_KEY: "tenant_id",
  BACKUP_PAGE_ROWS: String(PAGE_ROWS),
  BACKUP_MAX_FILE_BYTES: "65536",
  // One installation's key on both paths: chunks are named by a keyed hash, so equal rows, equal names.
  BACKUP_CHUNK_KEY: Buffer.alloc(32, 1).toString("base64"),
};
/** The environment of the Supabase path: the project URL and its service role key, no DATABASE_URL. */
const rpcEnv = () => ({
  ...LAYOUT,
  DATABASE_URL: "",
  SUPABASE_URL: PROJECT_URL,
  SUPABASE_SERVICE_ROLE_KEY: keys.serviceRole,
  BACKUP_STORAGE: "local",
});

const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url), "utf8");

let db: TestDatabase;
let keys: ProjectKeys;
let fake: ReturnType<typeof createFakePostgrest>;
let server: SetupServer;
let direct: TestServices;
let viaRpc: TestServices;
let postgres: PostgresCaller;

beforeAll(async () => {
  db = await createTestDatabase("migrated");
  await db.owner.query(fixture("awkward-schema.sql"));
  await db.owner.query(fixture("awkward-data.sql"));
  keys = await projectKeys();
  fake = createFakePostgrest({
    url: PROJECT_URL,
    apiKeys: [keys.anon, keys.serviceRole],
    jwtSecret: PROJECT_JWT_SECRET,
    databaseUrl: db.authenticatorUrl,
  });
  server = setupServer(...fake.handlers);
  server.listen({ onUnhandledRequest: "error" });
  direct = await createTestServices(db.url, LAYOUT);
  viaRpc = await createTestServices(db.url, rpcEnv());
  postgres = new PostgresCaller(db.url, { max: 1 });
});

beforeEach(() => {
  fake.reset();
  server.resetHandlers();
});

afterAll(async () => {
  server?.close();
  await direct?.cleanup();
  await viaRpc?.cleanup();
  await postgres?.close();
  await fake?.close();
  await db?.drop();
});

function client(key = keys.serviceRole, options: SupabaseClientOptions<"public"> = {}) {
  return createClient(PROJECT_URL, key, {
    ...options,
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
  });
}

async function backup(services: TestServices, tenantId: string, backupId: string) {
  const result = await backupTenant(services, {
    tenantId,
    tenantName: null,
    type: "manual",
    date: DATE,
    deadline: deadlineIn(services),
    resumeBackupId: backupId,
  });
  if (result.status !== "completed") throw new Error(`backup ${backupId} did not complete`);
  return result;
}

/** The manifest and every table's rows, each file verified against its SHA-256. */
async function contents(services: TestServices, summaryPath: string) {
  const manifest = await readManifest(services.storage, summaryPath);
  const rows = new Map<string, (string | null)[][]>();
  for (const table of manifest.tables) {
    const all: (string | null)[][] = [];
    for (const file of table.files) all.push(...parseRows(await readVerifiedFile(services.storage, file)));
    rows.set(table.name, all);
  }
  return { manifest, rows };
}

/** What must not depend on the path: per table its columns and files (all but the id in their path). */
function shape(manifest: Awaited<ReturnType<typeof contents>>["manifest"]) {
  return {
    schema_fingerprint: manifest.schema_fingerprint,
    total_records: manifest.total_records,
    total_bytes: manifest.total_bytes,
    tables: manifest.tables.map((t) => ({
      name: t.name,
      columns: t.columns,
      row_count: t.row_count,
      files: t.files.map((f) => ({
        name: f.path.slice(f.path.lastIndexOf("/") + 1),
        rows: f.rows,
        bytes: f.bytes,
        sha256: f.sha256,
        last_key: f.last_key,
      })),
    })),
  };
}

describe("a backup through supabase-js rpc()", () => {
  it("uses the Supabase caller, wrapped in retries", () => {
    expect(viaRpc.db.kind).toBe("supabase");
    expect(direct.db.kind).toBe("postgres");
  });

  it.each(["1", "9007199254740993"])(
    "writes the same files as the direct connection for tenant %s, page by page",
    async (tenantId) => {
      const byPg = await backup(direct, tenantId, `pg-${tenantId}`);
      expect(fake.calls).toHaveLength(0);
      const byRpc = await backup(viaRpc, tenantId, `rpc-${tenantId}`);

      const a = await contents(direct, byPg.summaryPath);
      const b = await contents(viaRpc, byRpc.summaryPath);
      // Same rows in each file, hence the same gzip bytes and SHA-256, whatever the backup id.
      expect(shape(b.manifest)).toEqual(shape(a.manifest));
      expect([...b.rows.keys()]).toEqual(["tenants", "accounts", "oddities", "entries", "entry_notes"]);
      for (const [table, rows] of a.rows) expect(b.rows.get(table), table).toEqual(rows);
      expect(a.manifest.total_records).toBeGreaterThan(1000);

      // Every database call of the rpc backup went through PostgREST, and succeeded.
      expect(fake.calls.length).toBeGreaterThan(0);
      expect(fake.calls.every((c) => c.status === 200)).toBe(true);
      expect(new Set(fake.calls.map((c) => c.fn))).toEqual(
        new Set([
          "tenant_backup_lock_acquire",
          "tenant_backup_run_start",
          "tenant_backup_prepare",
          // The validation rules (none here), read before the tenant is.
          "tenant_backup_validation_rule_list",
          "tenant_backup_snapshot_take",
          "tenant_backup_snapshot_page",
          // The lease renewed and the progress saved in one call.
          "tenant_backup_run_save",
          "tenant_backup_run_finish",
          "tenant_backup_snapshot_drop",
          "tenant_backup_lock_release",
        ]),
      );

      // Paged: no answer carried more than a page, and the pages add up to the backup.
      const pages = fake.calls.filter((c) => c.fn === "tenant_backup_snapshot_page");
      let total = 0;
      for (const call of pages) {
        expect(call.args?.p_limit).toBe(PAGE_ROWS);
        const page = JSON.parse(call.body) as { rows: number; data: string };
        expect(page.rows).toBeLessThanOrEqual(PAGE_ROWS);
        expect(page.data === "" ? 0 : page.data.split("\n").length).toBe(page.rows);
        total += page.rows;
      }
      expect(total).toBe(b.manifest.total_records);
      expect(pages.length).toBeGreaterThanOrEqual(Math.ceil(total / PAGE_ROWS));
      // The biggest table (oddities for tenant 1, entries for the other) took many pages of the run's
      // copy, the first from its start, each next one after the previous page's last row.
      const biggest = tenantId === "1" ? "oddities" : "entries";
      const tablePages = pages.filter((c) => c.args?.p_table === biggest);
      expect(tablePages.length).toBeGreaterThan(10);
      expect(tablePages[0]?.args?.p_after).toBe(0);
      tablePages.slice(1).forEach((call, i) => {
        const previous = tablePages[i] as (typeof tablePages)[number];
        const rows = (JSON.parse(previous.body) as { rows: number }).rows;
        expect(call.args?.p_after).toBe((previous.args?.p_after as number) + rows);
      });

      // The same run state and log rows in the database.
      const runs = await db.client.query(
        `select backup_id, status, records_count, file_size from tenant_backup_runs
         where backup_id in ($1, $2) order by backup_id`,
        [byPg.backupId, byRpc.backupId],
      );
      expect(runs.rows.map((r) => [r.status, String(r.records_count), String(r.file_size)])).toEqual([
        ["completed", String(a.manifest.total_records), String(a.manifest.total_bytes)],
        ["completed", String(a.manifest.total_records), String(a.manifest.total_bytes)],
      ]);
    },
  );

  it("reads the same run state back through both paths (date, bigint and default arguments)", async () => {
    await backup(direct, "2", "pg-2");
    await backup(viaRpc, "2", "rpc-2");
    const strip = (runs: { backup_id: string; updated_at: string; completed_at: string | null }[]) =>
      runs.map((r) => r.backup_id).sort();
    expect(strip(await viaRpc.db.runsOn(DATE))).toEqual(strip(await direct.db.runsOn(DATE)));
    expect(await viaRpc.db.runsOn(DATE, "manual")).toEqual(await direct.db.runsOn(DATE, "manual"));
    expect(await viaRpc.db.getRun("rpc-2")).toEqual(await direct.db.getRun("rpc-2"));
    expect(await viaRpc.db.history("2", 10)).toEqual(await direct.db.history("2", 10));
    expect(await viaRpc.db.getTenant("9007199254740993")).toEqual({ id: "9007199254740993", name: "Big id" });
    expect(await viaRpc.db.getTenant("no-such")).toBeNull();
    expect(await viaRpc.db.listTenants()).toEqual(await direct.db.listTenants());
  });

  it("survives 503s, a 504 and a lost connection through the services' retries, with the same files", async () => {
    fake.failNext(2, "503", { fn: "tenant_backup_snapshot_page" });
    fake.failNext(1, "504", { fn: "tenant_backup_prepare" });
    fake.failNext(1, "network", { fn: "tenant_backup_run_save", afterCommit: true });
    const byRpc = await backup(viaRpc, "1", "rpc-flaky-1");
    const byPg = await backup(direct, "1", "pg-steady-1");
    expect(fake.calls.filter((c) => c.fault).map((c) => [c.fn, c.fault])).toEqual([
      ["tenant_backup_prepare", "504"],
      // Saved right after the run's copy is taken, before the first page.
      ["tenant_backup_run_save", "network"],
      ["tenant_backup_snapshot_page", "503"],
      ["tenant_backup_snapshot_page", "503"],
    ]);
    const a = await contents(direct, byPg.summaryPath);
    const b = await contents(viaRpc, byRpc.summaryPath);
    expect(shape(b.manifest)).toEqual(shape(a.manifest));
    expect(viaRpc.logLines.filter((l) => l.includes("database retry"))).toHaveLength(4);
  });
});

describe("errors through rpc(), as DatabaseError codes", () => {
  it("a wrong service key: unauthorized, and not retried", async () => {
    const wrong = await createTestServices(db.url, { ...rpcEnv(), SUPABASE_SERVICE_ROLE_KEY: "not-the-key" });
    try {
      const err = await databaseErrorOf(backup(wrong, "1", "never"));
      expect(err.code).toBe("unauthorized");
      expect(err.message).toBe("Invalid API key");
      expect(fake.calls.map((c) => [c.fn, c.status])).toEqual([["tenant_backup_lock_acquire", 401]]);
      expect(await wrong.db.getRun("never").catch((e: DatabaseError) => e.code)).toBe("unauthorized");
    } finally {
      await wrong.cleanup();
    }
    expect(
      (await db.client.query("select 1 from tenant_backup_runs where backup_id = 'never'")).rowCount,
    ).toBe(0);
  });

  it("a right apikey with a wrong JWT: PostgREST's PGRST301, unauthorized", async () => {
    const caller = new SupabaseCaller(
      client(keys.serviceRole, { global: { headers: { Authorization: "Bearer forged" } } }),
    );
    const err = await databaseErrorOf(caller.call("tenant_backup_run_get", { p_backup_id: "x" }));
    expect(err.code).toBe("unauthorized");
    expect(fake.calls.map((c) => [c.status, JSON.parse(c.body).code])).toEqual([[401, "PGRST301"]]);
  });

  /** The same call through both backends: the same code and SQLSTATE. */
  async function both(fn: string, args: Record<string, unknown>) {
    const rpc = await databaseErrorOf(new SupabaseCaller(client()).call(fn, args));
    const pg = await databaseErrorOf(postgres.call(fn, args));
    return { rpc, pg, http: fake.calls.at(-1)?.status };
  }

  it("P0002 (PostgREST answers HTTP 500): not_found on both paths", async () => {
    const { rpc, pg, http } = await both("tenant_backup_run_finish", {
      p_backup_id: "no-such-run",
      p_status: "completed",
      p_summary_path: null,
      p_records: 0,
      p_bytes: 0,
      p_tables: 0,
      p_error: null,
      p_details: {},
    });
    expect(http).toBe(500);
    expect([rpc.code, rpc.sqlState, rpc.message]).toEqual([
      "not_found",
      "P0002",
      "no backup run no-such-run",
    ]);
    expect([pg.code, pg.sqlState, pg.message]).toEqual([rpc.code, rpc.sqlState, rpc.message]);
  });

  it("22023 (HTTP 400): failed on both paths", async () => {
    const { rpc, pg, http } = await both("tenant_backup_export_page", {
      p_plan_id: "x",
      p_table: "oddities",
      p_tenant: "1",
      p_limit: 0,
    });
    expect(http).toBe(400);
    expect([rpc.code, rpc.sqlState]).toEqual(["failed", "22023"]);
    expect([pg.code, pg.sqlState]).toEqual(["failed", "22023"]);
  });

  it("an undo point's id already taken (TB006, HTTP 400): the same SQLSTATE on both paths, which draws another", async () => {
    await db.client.query("select public.tenant_backup_capture_claim('taken-id', '1')");
    try {
      const { rpc, pg, http } = await both("tenant_backup_capture_claim", {
        p_capture_id: "taken-id",
        p_org: "2",
      });
      expect(http).toBe(400);
      expect([rpc.code, rpc.sqlState, rpc.message]).toEqual(["failed", "TB006", "the id taken-id is taken"]);
      expect([pg.code, pg.sqlState, pg.message]).toEqual([rpc.code, rpc.sqlState, rpc.message]);
    } finally {
      await db.client.query("delete from tenant_backup_undo where capture_id = 'taken-id'");
    }
  });

  it("an argument of the wrong type (22P02, HTTP 400): failed on both paths", async () => {
    const { rpc, pg, http } = await both("tenant_backup_runs_on", { p_date: "not-a-date" });
    expect(http).toBe(400);
    expect(rpc.code).toBe("failed");
    expect(rpc.sqlState).toBe(pg.sqlState);
  });

  it("an unknown function or missing argument (PGRST202, HTTP 404): failed, not not_found", async () => {
    const unknown = await both("tenant_backup_nope", {});
    expect(unknown.http).toBe(404);
    expect(unknown.rpc.code).toBe("failed");
    expect(unknown.pg.code).toBe("failed");
    const missing = await databaseErrorOf(new SupabaseCaller(client()).call("tenant_backup_run_get", {}));
    expect(missing.code).toBe("failed");
    expect(missing.message).toContain("Could not find the function public.tenant_backup_run_get()");
  });

  it.each([
    ["503", 503],
    ["504", 504],
    ["502-html", 502],
    ["network", 0],
  ] as const)("a %s: transient, one request (the caller itself never retries)", async (fault, status) => {
    fake.failNext(1, fault);
    const err = await databaseErrorOf(
      new SupabaseCaller(client()).call("tenant_backup_run_get", { p_backup_id: "x" }),
    );
    expect(err.code).toBe("transient");
    expect(err.sqlState).toBeUndefined();
    expect(fake.calls.map((c) => c.status)).toEqual([status]);
  });

  it("something in front of PostgREST answering 404 (empty, or its own JSON): failed", async () => {
    const rpcUrl = `${PROJECT_URL}/rest/v1/rpc/:fn`;
    server.use(http.post(rpcUrl, () => new HttpResponse(null, { status: 404 })));
    // postgrest-js reports an empty 404 as "204 No Content" without an error; it is not an answer.
    const empty = await databaseErrorOf(
      new SupabaseCaller(client()).call("tenant_backup_run_get", { p_backup_id: "x" }),
    );
    expect(empty.code).toBe("failed");
    server.use(
      http.post(rpcUrl, () =>
        HttpResponse.json({ message: "no Route matched with those values" }, { status: 404 }),
      ),
    );
    const route = await databaseErrorOf(
      new SupabaseCaller(client()).call("tenant_backup_run_get", { p_backup_id: "x" }),
    );
    expect([route.code, route.message]).toEqual(["failed", "no Route matched with those values"]);
  });

  it("a null answer is null, not an error", async () => {
    expect(await new SupabaseCaller(client()).call("tenant_backup_run_get", { p_backup_id: "x" })).toBeNull();
    expect(fake.calls.map((c) => [c.status, c.body])).toEqual([[200, "null"]]);
  });

  it("waits for a slow PostgREST", async () => {
    fake.setDelay(150, "tenant_backup_run_get");
    const started = Date.now();
    await new SupabaseCaller(client()).call("tenant_backup_run_get", { p_backup_id: "x" });
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  it("aborts a request slower than SUPABASE_TIMEOUT_MS as transient, and repeats it only where that is safe", async () => {
    fake.setDelay(400);
    const caller = new SupabaseCaller(
      createSupabaseClient({ url: PROJECT_URL, serviceRoleKey: keys.serviceRole, timeoutMs: 100 }),
    );
    const started = performance.now();
    const error: unknown = await caller
      .call("tenant_backup_run_get", { p_backup_id: "x" })
      .catch((err) => err);
    expect(performance.now() - started).toBeLessThan(350);
    expect(error).toBeInstanceOf(DatabaseError);
    expect(error).toMatchObject({ code: "transient", message: expect.stringMatching(/TimeoutError/) });

    const retried: string[] = [];
    const retrying = withDatabaseRetries(caller, {
      attempts: 2,
      sleep: async () => {},
      onRetry: (info) => retried.push(info.fn),
    });
    // Read-only: repeated. Not on the allow-list (the answer may be lost after the work committed): not.
    await expect(retrying.call("tenant_backup_run_get", { p_backup_id: "x" })).rejects.toThrow(
      /TimeoutError/,
    );
    await expect(retrying.call("tenant_backup_stage_clear", { p_restore_id: "x" })).rejects.toThrow(
      /TimeoutError/,
    );
    expect(retried).toEqual(["tenant_backup_run_get"]);
    // The fake answers the aborted requests late all the same; wait for them before the next test.
    await vi.waitFor(() => expect(fake.calls).toHaveLength(4), { timeout: 5_000 });
    expect(fake.calls.map((c) => c.fn)).toEqual([
      "tenant_backup_run_get",
      "tenant_backup_run_get",
      "tenant_backup_run_get",
      "tenant_backup_stage_clear",
    ]);
  });
});

describe("retries over rpc() when the answer is lost after the work committed", () => {
  const noSleep = { sleep: async () => {} };
  const retrying = (): SqlFunctionCaller => withDatabaseRetries(new SupabaseCaller(client()), noSleep);
  const layout = { rootTable: "tenants", key: "tenant_id", schema: "public" };

  it("lock_acquire is repeated and still finds the lease ours", async () => {
    const tenantDb = new TenantDb(retrying(), layout);
    fake.failNext(1, "504", { fn: "tenant_backup_lock_acquire", afterCommit: true });
    const lock = await tenantDb.acquireLock("2", "backup:manual", "holder-a", 60);
    expect(lock.acquired).toBe(true);
    expect(fake.calls.map((c) => [c.fn, c.status, c.executed])).toEqual([
      ["tenant_backup_lock_acquire", 504, true],
      ["tenant_backup_lock_acquire", 200, true],
    ]);
    // Someone else is still refused: the repeat did not hand the lease around.
    expect((await tenantDb.acquireLock("2", "backup:manual", "holder-b", 60)).acquired).toBe(false);
    expect(await tenantDb.releaseLock("2", "holder-a")).toBe(true);
  });

  it("run_start is repeated and finds the run it started, with one log row", async () => {
    const tenantDb = new TenantDb(retrying(), layout);
    fake.failNext(1, "network", { fn: "tenant_backup_run_start", afterCommit: true });
    const run = await tenantDb.startRun({
      backupId: "lost-start",
      tenantId: "2",
      date: DATE,
      type: "manual",
      logType: "manual_tenant",
    });
    expect(run.status).toBe("running");
    const logs = await db.client.query(
      "select count(*)::int as n from backup_logs where backup_id = 'lost-start'",
    );
    expect(logs.rows[0].n).toBe(1);
  });

  it("tenant_backup_log is not repeated: transient, and exactly one row", async () => {
    const tenantDb = new TenantDb(retrying(), layout);
    fake.failNext(1, "network", { fn: "tenant_backup_log", afterCommit: true });
    const err = await databaseErrorOf(
      tenantDb.log({
        organization_id: "2",
        backup_type: "manual_tenant",
        status: "completed",
        backup_id: "lost-log",
      }),
    );
    expect(err.code).toBe("transient");
    expect(fake.calls.map((c) => c.fn)).toEqual(["tenant_backup_log"]);
    const logs = await db.client.query(
      "select count(*)::int as n from backup_logs where backup_id = 'lost-log'",
    );
    expect(logs.rows[0].n).toBe(1);
  });
});

describe("the fake PostgREST itself, over plain fetch", () => {
  const rpc = (fn: string, init: { headers?: Record<string, string>; body?: string } = {}) =>
    fetch(`${PROJECT_URL}/rest/v1/rpc/${fn}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...init.headers },
      body: init.body ?? "{}",
    });
  const auth = () => ({ apikey: keys.serviceRole, authorization: `Bearer ${keys.serviceRole}` });

  it("refuses a request without an apikey at the gateway", async () => {
    const response = await rpc("tenant_backup_runs_on", { body: JSON.stringify({ p_date: DATE }) });
    expect(response.status).toBe(401);
    expect((await response.json()).message).toBe("No API key found in request");
  });

  it("runs a request without a JWT as anon, which may not execute our functions", async () => {
    const response = await rpc("tenant_backup_runs_on", {
      headers: { apikey: keys.serviceRole },
      body: JSON.stringify({ p_date: DATE }),
    });
    expect(response.status).toBe(401);
    expect((await response.json()).code).toBe("42501");
  });

  it("answers a scalar jsonb as the JSON value itself, defaults applying to missing arguments", async () => {
    const response = await rpc("tenant_backup_history", {
      headers: auth(),
      body: JSON.stringify({ p_org: "nobody" }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("application/json");
    expect(await response.json()).toEqual([]);
  });

  it("refuses invalid JSON, another schema and an unknown argument", async () => {
    const invalid = await rpc("tenant_backup_history", { headers: auth(), body: "{nope" });
    expect([invalid.status, (await invalid.json()).code]).toEqual([400, "PGRST102"]);
    const schema = await rpc("tenant_backup_history", {
      headers: { ...auth(), "content-profile": "private" },
      body: JSON.stringify({ p_org: "x" }),
    });
    expect([schema.status, (await schema.json()).code]).toEqual([406, "PGRST106"]);
    const extra = await rpc("tenant_backup_history", {
      headers: auth(),
      body: JSON.stringify({ p_org: "x", p_nope: 1 }),
    });
    expect([extra.status, (await extra.json()).code]).toEqual([404, "PGRST202"]);
  });
});

describe("schedules through rpc()", () => {
  it("sets, lists and records a run as the service role, the same rows as the direct path reads", async () => {
    const weekly = { frequency: "weekly", time_of_day: "05:00", day_of_week: 3, enabled: true } as const;
    const next = new Date("2026-11-25T05:00:00.000Z");
    const put = await viaRpc.db.putSchedule("rpc-tenant", weekly, next);
    expect(put).toMatchObject({ ...weekly, organization_id: "rpc-tenant", last_run_at: null });
    const ran = await viaRpc.db.scheduleRan("rpc-tenant", new Date("2026-11-25T05:01:00Z"), "b-1", null);
    expect(ran).toMatchObject(weekly);
    expect(Date.parse(ran.last_run_at ?? "")).toBe(Date.parse("2026-11-25T05:01:00Z"));
    expect(await viaRpc.db.getSchedule("rpc-tenant")).toEqual(await direct.db.getSchedule("rpc-tenant"));
    const listed = (await viaRpc.db.listSchedules()).find((row) => row.organization_id === "rpc-tenant");
    expect(listed).toMatchObject({ last_backup_id: "b-1", last_records: null, last_bytes: null });
    expect(await viaRpc.db.getSchedule("no-such-tenant")).toBeNull();
  });
});
