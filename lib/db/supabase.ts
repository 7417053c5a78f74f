/**
 * The Supabase database backend: the same SQL functions, reached through PostgREST's rpc() with the
 * service role key. Used when only SUPABASE_URL + SUPABASE_SERVICE_ROLE_KEY are configured.
 */
import type { SupabaseClient } from "@supabase/supabase-js";
import { codeForSqlState, DatabaseError, type SqlFunctionCaller } from "./port.ts";

export class SupabaseCaller implements SqlFunctionCaller {
  readonly kind = "supabase";

  constructor(private readonly client: SupabaseClient) {}

  async call<T>(name: string, args: Record<string, unknown>): Promise<T> {
    const body = Object.fromEntries(Object.entries(args).filter(([, value]) => value !== undefined));
    let response: Awaited<ReturnType<SupabaseClient["rpc"]>>;
    try {
      response = await this.client.rpc(name, body);
    } catch (err) {
      // fetch itself failed: network error or abort.
      throw new DatabaseError("transient", (err as Error).message ?? String(err));
    }
    const { data, error, status } = response;
    if (error) {
      const sqlState =
        typeof error.code === "string" && /^[0-9A-Z]{5}$/.test(error.code) ? error.code : undefined;
      let code = codeForSqlState(sqlState);
      if (!sqlState) {
        // PostgREST's own errors (PGRSTxxx) and gateway answers carry no SQLSTATE: use the HTTP status.
        if (status === 401 || status === 403) code = "unauthorized";
        else if (status === 404) code = error.code === "PGRST202" ? "failed" : "not_found";
        else if (status >= 500 || status === 429 || status === 0) code = "transient";
      }
      throw new DatabaseError(code, error.message || `rpc ${name} failed with HTTP ${status}`, sqlState);
    }
    return data as T;
  }

  async close(): Promise<void> {}
}
