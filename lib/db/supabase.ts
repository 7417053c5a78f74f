/**
 * The Supabase database backend: the same SQL functions, reached through PostgREST's rpc() with the
 * service role key. Used when only SUPABASE_URL + SUPABASE_SERVICE_ROLE_KEY are configured.
 */
import type { SupabaseClient } from "@supabase/supabase-js";
import { codeForSqlState, DatabaseError, type DatabaseErrorCode, type SqlFunctionCaller } from "./port.ts";

const SQLSTATE = /^[0-9A-Z]{5}$/;

export class SupabaseCaller implements SqlFunctionCaller {
  readonly kind = "supabase";

  constructor(private readonly client: SupabaseClient) {}

  async call<T>(name: string, args: Record<string, unknown>): Promise<T> {
    // A JSON body carries text: a Buffer argument (a text's UTF-8 bytes) goes as that text.
    const body = Object.fromEntries(
      Object.entries(args)
        .filter(([, value]) => value !== undefined)
        .map(([key, value]) => [key, Buffer.isBuffer(value) ? value.toString("utf8") : value]),
    );
    let response: Awaited<ReturnType<SupabaseClient["rpc"]>>;
    try {
      response = await this.client.rpc(name, body);
    } catch (err) {
      // postgrest-js normally turns a failed fetch into { error, status: 0 } (below); a custom fetch or a
      // future throwOnError default could still throw here. Either way the server was not reached.
      throw new DatabaseError("transient", (err as Error).message ?? String(err));
    }
    const { data, error, status } = response;
    if (error) {
      // The body PostgREST sent ({ code, message, details, hint }), or what postgrest-js made of another
      // one: { message: <body text> } for a gateway's HTML page, { message, code: "" } for a network error.
      const code = typeof error.code === "string" ? error.code : undefined;
      const sqlState = code && SQLSTATE.test(code) ? code : undefined;
      throw new DatabaseError(
        sqlState ? codeForSqlState(sqlState) : codeForStatus(status),
        error.message || `rpc ${name} failed with HTTP ${status}`,
        sqlState,
      );
    }
    // Every function of ours answers jsonb, so PostgREST always answers 200 with a body (SQL NULL is the
    // text "null"). postgrest-js reports a 404 with an empty body as "204 No Content" and no error: that
    // is something in front of PostgREST (a wrong SUPABASE_URL path, a proxy), not our function's answer.
    if (status === 204) throw new DatabaseError("failed", `rpc ${name} answered HTTP 404 without a body`);
    return data as T;
  }

  async close(): Promise<void> {}
}

/**
 * Errors without a SQLSTATE: PostgREST's own (PGRSTxxx), the API gateway's, a proxy's, or the network.
 * Only the status says what happened. A 404 here is a missing function or route (PGRST202), never "no
 * data found" — PostgREST answers the function's P0002 with HTTP 500 and the SQLSTATE, handled above.
 */
function codeForStatus(status: number): DatabaseErrorCode {
  // 401: the gateway's "Invalid API key" or PGRST301 (bad JWT); 403: a JWT without the needed role.
  if (status === 401 || status === 403) return "unauthorized";
  // 0: fetch failed or was aborted (postgrest-js answers status 0); 408/429: come back later; 5xx:
  // PostgREST without its database (PGRST000-003: 503/504) or the gateway (502, 520, HTML pages).
  if (status === 0 || status === 408 || status === 429 || status >= 500) return "transient";
  return "failed";
}
