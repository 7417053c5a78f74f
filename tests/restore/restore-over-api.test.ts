/**
 * A restore end to end through the Supabase API (supabase-js rpc() → the fake PostgREST → our SQL) as the
 * service role, under the authenticator's statement timeout, as on a project without DATABASE_URL:
 * - with a small time budget, staging goes on across calls (202 each time), each page staged once, and
 *   the dry run and the real restore both finish; the real one brings the tenant back byte for byte, in
 *   replica mode, without firing the app's triggers;
 * - a restore whose one-transaction apply would not fit one call is refused before anything changes,
 *   pointing to the direct path;
 * - an apply cancelled by its statement timeout changes nothing and says so.
 */
import { type SetupServer, setupServer } from "msw/node";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createFakePostgrest } from "../db/fake-postgrest.ts";
import { PROJECT_JWT_SECRET, projectKeys } from "../db/supabase-keys.ts";
import type { TestDatabase } from "../support/database.ts";
import { createTestServices, type TestServices } from "../support/services.ts";
import {
  APP_ENV,
  auditCounts,
  BACKUP_DATE,
  backup,
  createAppDatabase,
  restore,
  restoreLogs,
  workspaceSnapshot,
} from "./app.ts";

const PROJECT_URL = "https://restore-project.supabase.co";

let db: TestDatabase;
let server: SetupServer;
let fake: ReturnType<typeof createFakePostgrest>;
let serviceRoleKey: string;
/** Every services' files live in the first one's folder, where the backup is. */
let backupDir: string | undefined;
const opened: TestServices[] = [];

/** Services on the Supabase path only: no DATABASE_URL, files in a local folder. */
async function apiServices(env: Record<string, string> = {}, url = PROJECT_URL) {
  const services = await createTestServices(db.url, {
    ...APP_ENV,
    DATABASE_URL: "",
    SUPABASE_URL: url,
    SUPABASE_SERVICE_ROLE_KEY: serviceRoleKey,
    BACKUP_STORAGE: "local",
    // Small files, so that a table spans several files and pages.
    BACKUP_MAX_FILE_BYTES: "1024",
    ...(backupDir ? { BACKUP_DIR: backupDir } : {}),
    ...env,
  });
  backupDir ??= services.backupDir;
  opened.push(services);
  return services;
}

/** Calls restore-tenant-data until it answers something other than 202; answers that and the count. */
async function restoreToEnd(services: TestServices, body: Record<string, unknown>) {
  for (let calls = 1; calls <= 100; calls++) {
    const answer = await restore(services, body);
    if (answer.status !== 202) return { answer, calls };
  }
  throw new Error("the restore never ended");
}

/** The app at work on w1 after the backup: 3 contacts go (with their deals and notes), 2 change. */
async function changeW1() {
  await db.owner.query("delete from contacts where workspace_id = 'w1' and id in (1, 2, 3)");
  await db.owner.query("update contacts set phone = 'changed' where id in (5, 6)");
}

beforeAll(async () => {
  db = await createAppDatabase();
  const keys = await projectKeys();
  serviceRoleKey = keys.serviceRole;
  const common = {
    apiKeys: [keys.anon, keys.serviceRole],
    jwtSecret: PROJECT_JWT_SECRET,
    databaseUrl: db.authenticatorUrl,
  };
  // Supabase's 8 s, from the authenticator role itself; functions that declare their own get theirs.
  fake = createFakePostgrest({ ...common, url: PROJECT_URL });
  server = setupServer(...fake.handlers);
  server.listen({ onUnhandledRequest: "error" });
  await backup(await apiServices(), "w1");
});

beforeEach(() => {
  fake.reset();
});

afterAll(async () => {
  server?.close();
  for (const services of opened) await services.cleanup();
  await fake?.close();
  await db?.drop();
});

describe("a restore through the Supabase API, as the service role", () => {
  it("stages across calls within a small time budget, then dry-runs and restores byte for byte", async () => {
    const original = await workspaceSnapshot(db.client, "= 'w1'");
    const others = await workspaceSnapshot(db.client, "<> 'w1'");
    await changeW1();
    const changed = await workspaceSnapshot(db.client, "= 'w1'");
    const audit = await auditCounts(db.client);
    // Pages of about one small file each, so that every table takes several.
    const services = await apiServices({ BACKUP_TIME_BUDGET_MS: "1", BACKUP_PAGE_BYTES: "1024" });
    expect(services.db.kind).toBe("supabase");

    const dry = await restoreToEnd(services, {
      organization_id: "w1",
      backup_date: BACKUP_DATE,
      dry_run: true,
    });
    expect(dry.answer.status, JSON.stringify(dry.answer.body)).toBe(200);
    expect(dry.answer.body.summary).toMatchObject({ dry_run: true, mode: "replica" });
    expect(dry.answer.body.tables.contacts).toMatchObject({ would_insert: 3, would_change: 2 });
    expect(await workspaceSnapshot(db.client, "= 'w1'")).toEqual(changed);
    // One page per call at most: every table's pages took a call each.
    const pages = fake.calls.filter((c) => c.fn === "tenant_backup_stage_page");
    expect(dry.calls).toBeGreaterThan(4);
    expect(dry.calls).toBeGreaterThanOrEqual(pages.length);
    // Each page was staged once, whatever call it fell in: later calls went on where earlier ones stopped.
    const keys = pages.map((c) => `${c.args?.p_table}/${c.args?.p_page}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(new Set(pages.map((c) => c.args?.p_table))).toEqual(
      new Set(["workspaces", "contacts", "deals", "deal_notes"]),
    );
    expect(pages.some((c) => Number(c.args?.p_page) >= 100_000)).toBe(true);

    fake.reset();
    const real = await restoreToEnd(services, {
      organization_id: "w1",
      backup_date: BACKUP_DATE,
      dry_run: false,
    });
    expect(real.answer.status, JSON.stringify(real.answer.body)).toBe(200);
    expect(real.calls).toBeGreaterThan(4);
    expect(real.answer.body.summary).toMatchObject({ dry_run: false, mode: "replica" });
    expect(real.answer.body.summary.undo_backup_id).toEqual(expect.any(String));
    expect(await workspaceSnapshot(db.client, "= 'w1'")).toEqual(original);
    expect(await workspaceSnapshot(db.client, "<> 'w1'")).toEqual(others);
    expect(await auditCounts(db.client)).toEqual(audit);

    // Everything went through PostgREST and succeeded; the staging area is empty again.
    expect(fake.calls.length).toBeGreaterThan(0);
    expect(fake.calls.filter((c) => c.status !== 200)).toEqual([]);
    expect(fake.calls.filter((c) => c.fn === "tenant_backup_apply_live")).toHaveLength(1);
    const staged = await db.client.query("select count(*)::int as n from tenant_backup_stage");
    expect(staged.rows).toEqual([{ n: 0 }]);
    expect((await restoreLogs(db.client)).slice(-2)).toEqual([
      [true, "completed"],
      [false, "completed"],
    ]);
  });

  it("refuses, before anything changes, a restore whose apply would not fit one call", async () => {
    await changeW1();
    const before = await workspaceSnapshot(db.client, "= 'w1'");
    const logs = await restoreLogs(db.client);
    // At 5 rows a second, the tenant's 131 rows take longer than the 15 s the apply may take over the API.
    const services = await apiServices({ RESTORE_APPLY_ROWS_PER_SECOND: "5" });
    for (const dryRun of [true, false]) {
      const answer = await restore(services, {
        organization_id: "w1",
        backup_date: BACKUP_DATE,
        dry_run: dryRun,
      });
      expect(answer.status, JSON.stringify(answer.body)).toBe(422);
      expect(answer.body.error.details).toMatchObject({ reason: "apply_too_large", limit_ms: 15_000 });
      expect(answer.body.error.message).toContain("npm run restore");
      expect(answer.body.error.message).toContain("nothing was changed");
    }
    // Refused from the backup's summary and the catalog alone: no lease, no staging, no undo backup, no log.
    const read = new Set(["tenant_backup_tenant_key", "tenant_backup_prepare", "tenant_backup_catalog"]);
    expect(fake.calls.filter((c) => !read.has(c.fn)).map((c) => c.fn)).toEqual([]);
    expect(fake.calls.length).toBeGreaterThan(0);
    expect(await workspaceSnapshot(db.client, "= 'w1'")).toEqual(before);
    expect(await restoreLogs(db.client)).toEqual(logs);
  });

  it("changes nothing when the statement timeout cancels the apply, and says so", async () => {
    // The apply declares its own statement_timeout, which PostgREST applies to the request: made 1 s here,
    // while every deal written back takes 500 ms (ENABLE ALWAYS: in replica mode too), 6 deals in all.
    const apply = await db.client.query(
      "select oid::regprocedure::text as fn, proconfig from pg_proc where proname = 'tenant_backup_apply_live'",
    );
    const fn = apply.rows[0].fn as string;
    const timeout = (apply.rows[0].proconfig as string[]).find((c) => c.startsWith("statement_timeout="));
    expect(timeout).toBeDefined();
    await db.owner.query(`
      alter function ${fn} set statement_timeout = '1s';
      create function slow_row() returns trigger language plpgsql as $$ begin perform pg_sleep(0.5); return new; end $$;
      create trigger deals_slow before insert on deals for each row execute function slow_row();
      alter table deals enable always trigger deals_slow;`);
    try {
      await db.owner.query("delete from contacts where workspace_id = 'w1' and id in (1, 2, 3)");
      const before = await workspaceSnapshot(db.client, "= 'w1'");
      const services = await apiServices();
      const answer = await restore(services, {
        organization_id: "w1",
        backup_date: BACKUP_DATE,
        dry_run: false,
      });
      expect(answer.status, JSON.stringify(answer.body)).toBe(503);
      expect(answer.body.error.details).toEqual({ reason: "statement_timeout" });
      expect(answer.body.error.message).toContain("nothing was changed");
      const calls = fake.calls.filter((c) => c.fn === "tenant_backup_apply_live");
      expect(calls.map((c) => [c.status, JSON.parse(c.body).code])).toEqual([[500, "57014"]]);
      expect(await workspaceSnapshot(db.client, "= 'w1'")).toEqual(before);
      expect((await restoreLogs(db.client)).at(-1)).toEqual([false, "failed"]);
    } finally {
      await db.owner.query(`drop trigger deals_slow on deals; drop function slow_row();
                            alter function ${fn} set ${(timeout as string).replace("=", " = '")}'`);
    }
  });
});
