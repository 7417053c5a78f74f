/**
 * The fake PostgREST runs each request the way PostgREST does on Supabase, so that grants, volatility and
 * the statement timeout are really tested: as `authenticator`, in a transaction per request, under the role
 * of the key's `role` claim with the claims set, READ ONLY for STABLE and IMMUTABLE functions, under the
 * authenticator's 8 s statement_timeout unless the function sets its own.
 */
import { createClient } from "@supabase/supabase-js";
import { type SetupServer, setupServer } from "msw/node";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DatabaseError } from "../../lib/db/port.ts";
import { withDatabaseRetries } from "../../lib/db/retrying.ts";
import { SupabaseCaller } from "../../lib/db/supabase.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { databaseErrorOf } from "../support/database-error.ts";
import { AUTHENTICATOR_STATEMENT_TIMEOUT } from "../support/roles.ts";
import { createFakePostgrest } from "./fake-postgrest.ts";
import { PROJECT_JWT_SECRET, type ProjectKeys, projectKeys, signProjectJwt } from "./supabase-keys.ts";

/** Two projects on the same database: one with Supabase's timeout, one with a short one for the tests. */
const PROJECT_URL = "https://roles-project.supabase.co";
const SHORT_TIMEOUT_URL = "https://short-timeout.supabase.co";
const SHORT_TIMEOUT = "300ms";

let db: TestDatabase;
let keys: ProjectKeys;
let fake: ReturnType<typeof createFakePostgrest>;
let short: ReturnType<typeof createFakePostgrest>;
let server: SetupServer;

beforeAll(async () => {
  db = await createTestDatabase("migrated");
  // Probes, created by the owner like any function of the app's, so Supabase's default privileges grant
  // them to anon, authenticated and service_role. Except tb_probe_ours, which is revoked from the client
  // roles the way our migrations revoke every function of ours.
  await db.owner.query(`
    create function public.tb_probe_request() returns jsonb language sql volatile as $$
      select jsonb_build_object('user', current_user, 'session_user', session_user,
        'claims', current_setting('request.jwt.claims', true)::jsonb,
        'role_claim', current_setting('request.jwt.claim.role', true),
        'read_only', current_setting('transaction_read_only'),
        'statement_timeout', current_setting('statement_timeout'))
    $$;
    create function public.tb_probe_request_stable() returns jsonb language sql stable as
      'select public.tb_probe_request()';
    create sequence public.tb_probe_counter;
    create function public.tb_probe_count_stable() returns jsonb language sql stable as
      'select to_jsonb(nextval(''public.tb_probe_counter''))';
    create function public.tb_probe_sleep(p_seconds double precision) returns jsonb language sql volatile as
      'select to_jsonb(pg_sleep(p_seconds)::text)';
    create function public.tb_probe_sleep_long(p_seconds double precision) returns jsonb language sql volatile
      set statement_timeout = '5s' as 'select to_jsonb(pg_sleep(p_seconds)::text)';
    create function public.tb_probe_ours() returns jsonb language sql volatile as 'select to_jsonb(1)';
    revoke execute on function public.tb_probe_ours() from public, anon, authenticated;
  `);
  keys = await projectKeys();
  const common = { apiKeys: [keys.anon, keys.serviceRole], jwtSecret: PROJECT_JWT_SECRET };
  fake = createFakePostgrest({ ...common, url: PROJECT_URL, databaseUrl: db.authenticatorUrl });
  short = createFakePostgrest({
    ...common,
    url: SHORT_TIMEOUT_URL,
    databaseUrl: db.authenticatorUrl,
    authenticatorStatementTimeout: SHORT_TIMEOUT,
  });
  server = setupServer(...fake.handlers, ...short.handlers);
  server.listen({ onUnhandledRequest: "error" });
});

beforeEach(() => {
  fake.reset();
  short.reset();
});

afterAll(async () => {
  server?.close();
  await fake?.close();
  await short?.close();
  await db?.drop();
});

/** supabase-js as an app would use it: `key` as apikey, `token` (default: the key) as the bearer. */
function caller(key: string, options: { url?: string; token?: string } = {}) {
  const headers: Record<string, string> = options.token ? { Authorization: `Bearer ${options.token}` } : {};
  return new SupabaseCaller(
    createClient(options.url ?? PROJECT_URL, key, {
      auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
      global: { headers },
    }),
  );
}

describe("the role comes from the key", () => {
  it("runs as the key's role, logged in as authenticator, with the claims set for the transaction", async () => {
    const seen = await caller(keys.serviceRole).call<Record<string, unknown>>("tb_probe_request", {});
    expect(seen).toMatchObject({
      user: "service_role",
      session_user: "authenticator",
      role_claim: "service_role",
      read_only: "off",
      statement_timeout: AUTHENTICATOR_STATEMENT_TIMEOUT,
    });
    expect(seen.claims).toMatchObject({ role: "service_role", iss: "supabase" });
    const anon = await caller(keys.anon).call<Record<string, unknown>>("tb_probe_request", {});
    expect(anon).toMatchObject({ user: "anon", role_claim: "anon" });
  });

  it("leaves the refusal to the grants: anon gets 401 and a signed-in user 403, both 42501", async () => {
    expect(await caller(keys.serviceRole).call("tb_probe_ours", {})).toBe(1);
    const anon = await databaseErrorOf(caller(keys.anon).call("tb_probe_ours", {}));
    expect([anon.code, anon.sqlState]).toEqual(["unauthorized", "42501"]);
    const user = await signProjectJwt({ role: "authenticated", sub: "user-1" });
    const signedIn = await databaseErrorOf(caller(keys.anon, { token: user }).call("tb_probe_ours", {}));
    expect([signedIn.code, signedIn.sqlState]).toEqual(["unauthorized", "42501"]);
    expect(fake.calls.map((c) => [c.status, c.executed])).toEqual([
      [200, true],
      [401, false],
      [403, false],
    ]);
    // Our own functions, refused to anon by our migrations' grants and by nothing else.
    const ours = await databaseErrorOf(
      caller(keys.anon).call("tenant_backup_runs_on", { p_date: "2026-11-22" }),
    );
    expect(ours.sqlState).toBe("42501");
    expect(await caller(keys.serviceRole).call("tenant_backup_runs_on", { p_date: "2026-11-22" })).toEqual(
      [],
    );
  });

  it("refuses a token signed with another secret (PGRST301) before any SQL runs", async () => {
    const forged = await signProjectJwt({ role: "service_role" }, "another-secret-of-at-least-32-characters");
    const err = await databaseErrorOf(caller(keys.anon, { token: forged }).call("tb_probe_request", {}));
    expect(err.code).toBe("unauthorized");
    expect(fake.calls.map((c) => [c.status, JSON.parse(c.body).code])).toEqual([[401, "PGRST301"]]);
  });
});

describe("a transaction per request", () => {
  it("is READ ONLY for a STABLE function, so one that writes is refused (25006, HTTP 405)", async () => {
    const stable = await caller(keys.serviceRole).call<Record<string, unknown>>(
      "tb_probe_request_stable",
      {},
    );
    expect(stable.read_only).toBe("on");
    const err = await databaseErrorOf(caller(keys.serviceRole).call("tb_probe_count_stable", {}));
    expect(err.sqlState).toBe("25006");
    expect(err.message).toContain("read-only transaction");
    expect(fake.calls.at(-1)?.status).toBe(405);
  });
});

describe("the statement timeout", () => {
  it("cancels a call that runs past the authenticator's timeout: 57014, HTTP 500, transient", async () => {
    const started = Date.now();
    const err = await databaseErrorOf(
      caller(keys.serviceRole, { url: SHORT_TIMEOUT_URL }).call("tb_probe_sleep", { p_seconds: 3 }),
    );
    expect(Date.now() - started).toBeLessThan(2500);
    expect([err.code, err.sqlState]).toEqual(["transient", "57014"]);
    expect(err.message).toContain("statement timeout");
    expect(short.calls.map((c) => [c.status, c.executed])).toEqual([[500, false]]);
  });

  it("allows a function that sets its own statement_timeout its time", async () => {
    const seen = await caller(keys.serviceRole, { url: SHORT_TIMEOUT_URL }).call("tb_probe_sleep_long", {
      p_seconds: 0.6,
    });
    expect(seen).toBe("");
    expect(short.calls.map((c) => c.status)).toEqual([200]);
    // The same sleep without the function's own setting is cancelled.
    const err = await databaseErrorOf(
      caller(keys.serviceRole, { url: SHORT_TIMEOUT_URL }).call("tb_probe_sleep", { p_seconds: 0.6 }),
    );
    expect(err.sqlState).toBe("57014");
  });

  it("is retried only for functions on the retry allow-list", async () => {
    const noSleep = { sleep: async () => {} };
    const direct = caller(keys.serviceRole, { url: SHORT_TIMEOUT_URL });
    const notListed = await databaseErrorOf(
      withDatabaseRetries(direct, noSleep).call("tb_probe_sleep", { p_seconds: 0.6 }),
    );
    expect(notListed.sqlState).toBe("57014");
    expect(short.calls).toHaveLength(1);
    short.reset();
    const listed = withDatabaseRetries(direct, {
      ...noSleep,
      attempts: 2,
      retryable: new Set(["tb_probe_sleep"]),
    });
    await expect(listed.call("tb_probe_sleep", { p_seconds: 0.6 })).rejects.toBeInstanceOf(DatabaseError);
    expect(short.calls).toHaveLength(2);
  });
});
