/**
 * The Supabase client the database and storage backends share: service role, no session, and a time
 * limit on every request. A request still unanswered after SUPABASE_TIMEOUT_MS is aborted; both backends
 * report that as a transient failure, which the retry wrappers repeat only where a repeat is safe. A hung
 * request thus costs one timeout, never a function's whole time budget.
 */
import { createClient, type SupabaseClient } from "@supabase/supabase-js";

export interface SupabaseSettings {
  url: string;
  serviceRoleKey: string;
  /** Milliseconds one request (its whole answer included) may take. */
  timeoutMs: number;
}

export function createSupabaseClient(settings: SupabaseSettings): SupabaseClient {
  return createClient(settings.url, settings.serviceRoleKey, {
    auth: { persistSession: false, autoRefreshToken: false },
    global: {
      fetch: (input, init) => {
        const timeout = AbortSignal.timeout(settings.timeoutMs);
        const signal = init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
        return fetch(input, { ...init, signal });
      },
    },
  });
}
