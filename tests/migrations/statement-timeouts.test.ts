/**
 * Over PostgREST a call runs under its role's statement_timeout (8 s on Supabase) unless the function
 * declares its own, which PostgREST applies to the request's transaction before the call. The functions
 * that may run long declare 55 s, within the ~60 s the API gateway allows; the others keep the default.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

/**
 * The functions that may run long: the whole apply, the backup's copy and its pages, big staging, whole-table
 * scans, the restored tables analyzed, a module's counts, export pages and import, the validation checks.
 */
const LONG = [
  "tenant_backup_analyze_stale",
  "tenant_backup_apply",
  "tenant_backup_apply_checked",
  "tenant_backup_apply_live",
  "tenant_backup_export_page",
  "tenant_backup_list_tenants",
  "tenant_backup_module_counts",
  "tenant_backup_module_import",
  "tenant_backup_module_page",
  "tenant_backup_prepare",
  "tenant_backup_runs_expire",
  "tenant_backup_snapshot_drop",
  "tenant_backup_snapshot_page",
  "tenant_backup_snapshot_take",
  "tenant_backup_stage_clear",
  "tenant_backup_stage_page",
  "tenant_backup_validation_check",
  "tenant_backup_validation_run",
];
/** What the API gateway allows a request, in milliseconds. */
const GATEWAY_LIMIT_MS = 60_000;

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase("migrated");
});

afterAll(async () => {
  await db?.drop();
});

describe("statement_timeout of our functions", () => {
  it("is set on the functions that may run long, under the gateway's limit, and on no other", async () => {
    const { rows } = await db.client.query<{ name: string; timeout: string | null }>(`
      select p.proname as name,
             (select substr(c, length('statement_timeout=') + 1) from unnest(p.proconfig) c
              where c like 'statement\\_timeout=%') as timeout
      from pg_proc p where p.pronamespace = 'public'::regnamespace and p.proname like 'tenant\\_backup\\_%'`);
    expect(rows.length).toBeGreaterThan(LONG.length);
    const withTimeout = rows.filter((r) => r.timeout !== null);
    expect(withTimeout.map((r) => r.name).sort()).toEqual(LONG);
    for (const { name, timeout } of withTimeout) {
      const ms = (await db.client.query("select extract(epoch from $1::interval) * 1000 as ms", [timeout]))
        .rows[0].ms;
      expect(Number(ms), name).toBeGreaterThan(8_000);
      expect(Number(ms), name).toBeLessThan(GATEWAY_LIMIT_MS);
    }
  });

  it("cuts a call when applied before it, as PostgREST does, and not a direct call", async () => {
    await db.client.query(
      "create function public.slow_call() returns int language sql set statement_timeout = '100ms' as 'select 1 from pg_sleep(0.3)'",
    );
    try {
      // Direct: the timeout is armed when the statement starts, before the function's SET takes effect.
      expect((await db.client.query("select public.slow_call() as r")).rows).toEqual([{ r: 1 }]);
      // PostgREST: the function's setting becomes the transaction's before the call.
      await db.client.query("begin");
      try {
        await db.client.query("set local statement_timeout = '100ms'");
        await expect(db.client.query("select public.slow_call()")).rejects.toMatchObject({ code: "57014" });
      } finally {
        await db.client.query("rollback");
      }
    } finally {
      await db.client.query("drop function public.slow_call()");
    }
  });
});
