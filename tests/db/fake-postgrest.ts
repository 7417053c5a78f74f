/**
 * Supabase's PostgREST for msw, for `POST {url}/rest/v1/rpc/:fn` only, answering the way the documented
 * service does (PostgREST docs: references/api/functions, references/transactions, references/errors) while
 * the SQL runs in the REAL test PostgreSQL, so that supabase-js `rpc()` is exercised unmodified against our
 * own functions:
 *
 * - Credentials like the platform: the API gateway refuses a missing or unknown `apikey` with its own 401
 *   `{message, hint}`. PostgREST verifies the `Authorization: Bearer` JWT with the project's secret (401
 *   PGRST301 and a WWW-Authenticate header when it fails) and takes the database role from its `role`
 *   claim; without any Authorization the request runs as `anon`. Nothing is refused by a rule of the fake:
 *   the grants decide (42501, answered 401 for anon and 403 for an authenticated role).
 * - It logs in as `authenticator` and runs each request in its own transaction: `BEGIN` (READ ONLY when the
 *   function is STABLE or IMMUTABLE), `SET LOCAL ROLE` to the claim's role, `request.jwt.claims` and
 *   `request.jwt.claim.role` set locally, the impersonated role's own settings (ALTER ROLE … SET) and the
 *   function's hoisted settings (statement_timeout, default_transaction_isolation,
 *   plan_filter.statement_cost) set locally, the call, then COMMIT, or ROLLBACK on an error.
 * - statement_timeout is the authenticator's (Supabase: 8 s, which the service role inherits) unless the
 *   role or the function sets its own; `authenticatorStatementTimeout` plays another value, so that tests
 *   need not wait 8 s. A timeout is SQLSTATE 57014, which PostgREST answers with HTTP 500.
 * - The body is a JSON object of named arguments. The function is found by name and by that set of names
 *   (every key a parameter, every parameter without a default given), else 404 PGRST202; several
 *   matching overloads are 300 PGRST203. Each value becomes its parameter's type the way PostgREST's
 *   `json_to_record` does it: json/jsonb take the JSON value itself, other types its text.
 * - A function returning a scalar answers that value as the JSON body (jsonb `null` is the body `null`);
 *   a set-returning one a JSON array of at most `maxRows` rows (db-max-rows, 1000 on Supabase).
 * - A PostgreSQL error answers `{code, message, details, hint}` with the documented SQLSTATE → HTTP
 *   table: e.g. P0001 400, other P0* (P0002 "no data found") 500, 40* 500, 57* 500, 08* 503, 42883 404,
 *   anything unlisted (22xxx, 42xxx) 400.
 *
 * Faults for retry tests: the next N matching requests fail with a 503 (PGRST002), 504 (PGRST003), a
 * gateway's HTML 502, or a network error, either before the SQL runs or after it committed (the answer
 * lost on the way back); and a delay before answering.
 */
import { errors as joseErrors, jwtVerify } from "jose";
import { delay, HttpResponse, http } from "msw";
import pg from "pg";

export interface FakePostgrestOptions {
  /** The project URL, as given to createClient. */
  url: string;
  /** The keys the API gateway accepts as `apikey` (the project's anon and service role keys). */
  apiKeys: string[];
  /** The project's JWT secret: PostgREST verifies every bearer token with it (HS256). */
  jwtSecret: string;
  /** PostgREST's own login: the `authenticator` role's connection string to the test database. */
  databaseUrl: string;
  /** PostgREST's db-max-rows for set-returning functions. Default 1000, Supabase's default. */
  maxRows?: number;
  /**
   * The authenticator's statement_timeout (e.g. "300ms"), in place of the one its role has on the server
   * (Supabase's 8 s, see tests/support/roles.ts). Default: the role's.
   */
  authenticatorStatementTimeout?: string;
  /** Connections PostgREST's pool holds (db-pool). Default 4. */
  poolSize?: number;
}

export type Fault = "503" | "504" | "502-html" | "network";

export interface FaultRule {
  fault: Fault;
  /** How many matching requests fail; each failure uses one. */
  times: number;
  /** Only requests to this function; every function when absent. */
  fn?: string;
  /** Run the SQL (and commit) first, then fail: the caller cannot tell whether the call happened. */
  afterCommit?: boolean;
}

/** One request as the fake saw it and answered it. */
export interface RpcCall {
  fn: string;
  args: Record<string, unknown> | undefined;
  status: number;
  /** The response body text; "" for a network error. */
  body: string;
  fault?: Fault;
  /** Whether the function ran and committed. */
  executed: boolean;
}

interface Param {
  name: string;
  type: string;
  hasDefault: boolean;
}

interface Candidate {
  params: Param[];
  returnsSet: boolean;
  /** VOLATILE functions run READ WRITE; STABLE and IMMUTABLE ones READ ONLY. */
  volatile: boolean;
  /** The function's hoisted `SET` clauses, applied to the request's transaction. */
  settings: [string, string][];
}

/** PostgREST's db-hoisted-tx-settings default: function settings applied to the whole transaction. */
const HOISTED_SETTINGS = new Set([
  "statement_timeout",
  "plan_filter.statement_cost",
  "default_transaction_isolation",
]);
/** The role PostgREST uses for requests without a JWT (db-anon-role on Supabase). */
const ANON_ROLE = "anon";

const NAME = /^[a-z_][a-z0-9_]*$/;
const JSON_HEADERS = { "content-type": "application/json; charset=utf-8" };

export function createFakePostgrest(options: FakePostgrestOptions) {
  const timeout = options.authenticatorStatementTimeout;
  const pool = new pg.Pool({
    connectionString: options.databaseUrl,
    max: options.poolSize ?? 4,
    // A session default, as an ALTER ROLE authenticator SET would give it at login.
    ...(timeout ? { options: `-c statement_timeout=${timeout}` } : {}),
  });
  pool.on("error", () => {});
  const maxRows = options.maxRows ?? 1000;
  const calls: RpcCall[] = [];
  let rules: FaultRule[] = [];
  let delayMs = 0;
  let delayFn: string | undefined;

  /** PostgREST's error body: every field present, null when PostgreSQL gave none. */
  function errorBody(
    code: string,
    message: string,
    details: string | null = null,
    hint: string | null = null,
  ) {
    return { code, details, hint, message };
  }

  function takeFault(fn: string): FaultRule | undefined {
    const rule = rules.find((r) => r.times > 0 && (r.fn === undefined || r.fn === fn));
    if (rule) rule.times -= 1;
    return rule;
  }

  function faultResponse(fault: Fault): Response {
    switch (fault) {
      case "503":
        return HttpResponse.json(
          errorBody("PGRST002", "Could not query the database for the schema cache. Retrying."),
          { status: 503, headers: JSON_HEADERS },
        );
      case "504":
        return HttpResponse.json(
          errorBody("PGRST003", "Timed out acquiring connection from connection pool."),
          { status: 504, headers: JSON_HEADERS },
        );
      case "502-html":
        return new HttpResponse("<html><body><h1>502 Bad Gateway</h1></body></html>", {
          status: 502,
          headers: { "content-type": "text/html" },
        });
      case "network":
        return HttpResponse.error();
    }
  }

  /** Who a request runs as: the JWT's `role` claim, and the claims themselves. */
  interface Identity {
    role: string;
    claims: Record<string, unknown>;
  }

  /** The gateway's key check and PostgREST's JWT check: the identity, or the refusal. */
  async function authenticate(request: Request): Promise<Identity | Response> {
    const apikey = request.headers.get("apikey");
    if (!apikey) {
      return HttpResponse.json(
        {
          message: "No API key found in request",
          hint: "No `apikey` request header or url param was found.",
        },
        { status: 401 },
      );
    }
    if (!options.apiKeys.includes(apikey)) {
      return HttpResponse.json(
        { message: "Invalid API key", hint: "Double check your Supabase `anon` or `service_role` API key." },
        { status: 401 },
      );
    }
    const auth = request.headers.get("authorization");
    if (auth === null) return { role: ANON_ROLE, claims: {} };
    const token = /^Bearer\s+(.+)$/i.exec(auth)?.[1] ?? "";
    try {
      const { payload } = await jwtVerify(token, new TextEncoder().encode(options.jwtSecret), {
        algorithms: ["HS256"],
      });
      const role = typeof payload.role === "string" ? payload.role : ANON_ROLE;
      return { role, claims: payload as Record<string, unknown> };
    } catch (err) {
      const expired = err instanceof joseErrors.JWTExpired;
      const code = expired ? "PGRST303" : "PGRST301";
      const message = expired ? "JWT expired" : "JWSError JWSInvalidSignature";
      return HttpResponse.json(errorBody(code, message), {
        status: 401,
        headers: {
          ...JSON_HEADERS,
          "www-authenticate": `Bearer error="invalid_token", error_description="${message}"`,
        },
      });
    }
  }

  /**
   * The impersonated role's ALTER ROLE … SET settings, which PostgREST applies to each request. Read on the
   * request's own connection: taking a second one from the pool while holding the first would deadlock
   * once as many requests as the pool has connections run at the same time.
   */
  async function roleSettings(client: pg.PoolClient, role: string): Promise<[string, string][]> {
    const { rows } = await client.query<{ setting: string }>(
      `select unnest(s.setconfig) as setting from pg_db_role_setting s join pg_roles r on r.oid = s.setrole
       where r.rolname = $1 and s.setdatabase in (0, (select oid from pg_database where datname = current_database()))
       order by s.setdatabase`,
      [role],
    );
    return rows.map((r) => splitSetting(r.setting));
  }

  async function candidates(fn: string): Promise<Candidate[]> {
    const result = await pool.query<{
      names: string[] | null;
      types: string[];
      ndefaults: number;
      retset: boolean;
      volatile: boolean;
      config: string[] | null;
    }>(
      `select p.proargnames as names, p.pronargdefaults as ndefaults, p.proretset as retset,
              p.provolatile = 'v' as volatile, p.proconfig as config,
              array(select format_type(t, null) from unnest(p.proargtypes::oid[]) with ordinality u(t, o) order by o)
                as types
       from pg_proc p join pg_namespace n on n.oid = p.pronamespace
       where n.nspname = 'public' and p.proname = $1 and p.prokind = 'f'
         and (p.proargmodes is null or p.proargmodes <@ array['i']::"char"[])`,
      [fn],
    );
    return result.rows.map((row) => ({
      returnsSet: row.retset,
      volatile: row.volatile,
      settings: (row.config ?? []).map(splitSetting).filter(([name]) => HOISTED_SETTINGS.has(name)),
      params: row.types.map((type, i) => ({
        name: row.names?.[i] ?? "",
        type,
        // Defaults belong to the last pronargdefaults parameters.
        hasDefault: i >= row.types.length - row.ndefaults,
      })),
    }));
  }

  /** A JSON value as PostgREST's json_to_record hands it to a parameter of that type. */
  function parameterValue(type: string, value: unknown): string | null {
    if (value === null) return null;
    if (type === "json" || type === "jsonb") return JSON.stringify(value);
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  interface Answer {
    status: number;
    /** JSON text. */
    body: string;
    /** Whether the function ran and committed. */
    executed: boolean;
  }

  function failure(status: number, body: ReturnType<typeof errorBody>): Answer {
    return { status, body: JSON.stringify(body), executed: false };
  }

  async function answer(fn: string, args: Record<string, unknown>, identity: Identity): Promise<Answer> {
    const keys = Object.keys(args).sort();
    let all: Candidate[];
    try {
      all = await candidates(fn);
    } catch (err) {
      // The database was not reached: PostgREST's own connection error.
      return failure(
        503,
        errorBody("PGRST001", "Database client error. Retrying the connection.", (err as Error).message),
      );
    }
    const found = all.filter((c) => {
      const names = new Set(c.params.map((p) => p.name));
      return keys.every((k) => names.has(k)) && c.params.every((p) => p.hasDefault || keys.includes(p.name));
    });
    const signature = `public.${fn}(${keys.join(", ")})`;
    if (found.length === 0) {
      return failure(
        404,
        errorBody(
          "PGRST202",
          `Could not find the function ${signature} in the schema cache`,
          `Searched for the function public.${fn} with parameters ${keys.join(", ") || "without parameters"} or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache.`,
        ),
      );
    }
    if (found.length > 1) {
      return failure(
        300,
        errorBody("PGRST203", `Could not choose the best candidate function between: ${signature}`),
      );
    }
    const candidate = found[0] as Candidate;
    const given = candidate.params.filter((p) => Object.hasOwn(args, p.name));
    const list = given.map((p, i) => `${p.name} => $${i + 1}::${p.type}`).join(", ");
    const values = given.map((p) => parameterValue(p.type, args[p.name]));
    const text = candidate.returnsSet
      ? `select coalesce(json_agg(r), '[]')::text as body
         from (select * from public.${fn}(${list}) limit ${maxRows}) r`
      : `select coalesce(to_json(public.${fn}(${list}))::text, 'null') as body`;
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (err) {
      return failure(
        503,
        errorBody("PGRST001", "Database client error. Retrying the connection.", (err as Error).message),
      );
    }
    let broken = false;
    try {
      await client.query(candidate.volatile ? "begin" : "begin read only");
      await client.query(`set local role ${pg.escapeIdentifier(identity.role)}`);
      await client.query(
        "select set_config('request.jwt.claims', $1, true), set_config('request.jwt.claim.role', $2, true)",
        [JSON.stringify(identity.claims), identity.role],
      );
      for (const [name, value] of [...(await roleSettings(client, identity.role)), ...candidate.settings]) {
        await client.query("select set_config($1, $2, true)", [name, value]);
      }
      const result = await client.query<{ body: string }>({ text, values });
      await client.query("commit");
      return { status: 200, body: result.rows[0]?.body ?? "null", executed: true };
    } catch (err) {
      const e = err as { code?: string; message?: string; detail?: string; hint?: string };
      await client.query("rollback").catch(() => {
        broken = true;
      });
      if (typeof e.code !== "string" || !/^[0-9A-Z]{5}$/.test(e.code)) {
        // The database was not reached: PostgREST's own connection error.
        broken = true;
        return failure(
          503,
          errorBody("PGRST001", "Database client error. Retrying the connection.", e.message ?? null),
        );
      }
      return failure(
        statusForSqlState(e.code, identity.role !== ANON_ROLE),
        errorBody(e.code, e.message ?? "", e.detail ?? null, e.hint ?? null),
      );
    } finally {
      client.release(broken);
    }
  }

  /** Answers with a fault, recording it. */
  async function faulty(fn: string, args: Record<string, unknown>, fault: Fault, executed: boolean) {
    const response = faultResponse(fault);
    const network = fault === "network";
    calls.push({
      fn,
      args,
      status: network ? 0 : response.status,
      body: network ? "" : await response.clone().text(),
      fault,
      executed,
    });
    return response;
  }

  const rpcUrl = `${options.url}/rest/v1/rpc/:fn`;
  const handlers = [
    http.post(rpcUrl, async ({ request, params }) => {
      const fn = String(params.fn);
      const record = (call: Omit<RpcCall, "fn">) => calls.push({ fn, ...call });
      if (delayMs > 0 && (delayFn === undefined || delayFn === fn)) await delay(delayMs);

      const identity = await authenticate(request);
      if (identity instanceof Response) {
        record({
          args: undefined,
          status: identity.status,
          body: await identity.clone().text(),
          executed: false,
        });
        return identity;
      }
      const profile = request.headers.get("content-profile");
      if (profile !== null && profile !== "public") {
        const body = errorBody(
          "PGRST106",
          `Invalid schema: ${profile}`,
          null,
          "Only the following schemas are exposed: public",
        );
        record({ args: undefined, status: 406, body: JSON.stringify(body), executed: false });
        return HttpResponse.json(body, { status: 406 });
      }
      let args: unknown;
      try {
        const text = await request.text();
        args = text === "" ? {} : JSON.parse(text);
      } catch {
        args = undefined;
      }
      if (args === null || typeof args !== "object" || Array.isArray(args)) {
        const body = errorBody("PGRST102", "Empty or invalid json");
        record({ args: undefined, status: 400, body: JSON.stringify(body), executed: false });
        return HttpResponse.json(body, { status: 400 });
      }
      const named = args as Record<string, unknown>;
      // Names go into SQL text: only plain identifiers reach the database.
      if (!NAME.test(fn) || !Object.keys(named).every((k) => NAME.test(k))) {
        const body = errorBody("PGRST202", `Could not find the function public.${fn} in the schema cache`);
        record({ args: named, status: 404, body: JSON.stringify(body), executed: false });
        return HttpResponse.json(body, { status: 404 });
      }

      const rule = takeFault(fn);
      if (rule && !rule.afterCommit) return faulty(fn, named, rule.fault, false);
      const result = await answer(fn, named, identity);
      // afterCommit: the work is done, but the answer never arrives.
      if (rule) return faulty(fn, named, rule.fault, result.executed);
      record({ args: named, status: result.status, body: result.body, executed: result.executed });
      return new HttpResponse(result.body, { status: result.status, headers: JSON_HEADERS });
    }),
  ];

  return {
    handlers,
    /** Every rpc request, in order. */
    calls,
    /** Makes the next `times` requests (to `fn`, or any) fail with `fault`. */
    failNext(times: number, fault: Fault, rule: { fn?: string; afterCommit?: boolean } = {}) {
      rules.push({ times, fault, ...rule });
    },
    /** Waits `ms` before answering each request (to `fn`, or any); 0 stops waiting. */
    setDelay(ms: number, fn?: string) {
      delayMs = ms;
      delayFn = fn;
    },
    /** Forgets the recorded calls, pending faults and delay. */
    reset() {
      calls.length = 0;
      rules = [];
      delayMs = 0;
      delayFn = undefined;
    },
    close: () => pool.end(),
  };
}

/** "name=value" as pg_db_role_setting and proconfig store a setting. */
function splitSetting(setting: string): [string, string] {
  const at = setting.indexOf("=");
  return [setting.slice(0, at), setting.slice(at + 1)];
}

/** PostgREST's documented SQLSTATE → HTTP status table (references/errors, "HTTP Status Codes"). */
export function statusForSqlState(code: string, authenticated = true): number {
  const exact: Record<string, number> = {
    "23503": 409,
    "23505": 409,
    "25006": 405,
    "53400": 500,
    P0001: 400,
    "42883": 404,
    "42P01": 404,
    "42P17": 500,
    "42501": authenticated ? 403 : 401,
  };
  if (exact[code] !== undefined) return exact[code];
  if (code.startsWith("PT")) return Number(code.slice(2)) || 500;
  const byClass: Record<string, number> = {
    "08": 503,
    "09": 500,
    "0L": 403,
    "0P": 403,
    "25": 500,
    "28": 403,
    "2D": 500,
    "38": 500,
    "39": 500,
    "3B": 500,
    "40": 500,
    "53": 503,
    "54": 500,
    "55": 500,
    "57": 500,
    "58": 500,
    F0: 500,
    HV: 500,
    P0: 500,
    XX: 500,
  };
  return byClass[code.slice(0, 2)] ?? 400;
}
