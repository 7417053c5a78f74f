/**
 * Retries around a database caller, so that both backends stay single-attempt and the policy lives in one
 * place. Only "transient" failures are retried, and only of functions that are safe to call twice: a
 * transient failure (a lost connection, a gateway timeout) can come after the function committed, with the
 * answer lost on the way back, so a second call must not do the work a second time.
 */
import { setTimeout as delay } from "node:timers/promises";
import { DatabaseError, type SqlFunctionCaller } from "./port.ts";

/**
 * The functions a retry may repeat. An allow-list, not a deny-list, so that a new function (a restore's
 * delete + insert, say) is not retried until someone has checked that running it twice is harmless.
 * Not here, on purpose: tenant_backup_log (each call inserts another backup_logs row).
 */
export const RETRYABLE_FUNCTIONS: ReadonlySet<string> = new Set([
  // Read-only (tenant_backup_prepare stores its plan keyed by the catalog's hash: a repeat upserts the same).
  "tenant_backup_catalog",
  "tenant_backup_prepare",
  "tenant_backup_list_tenants",
  "tenant_backup_get_tenant",
  "tenant_backup_tenant_key",
  "tenant_backup_export_page",
  "tenant_backup_export_query",
  "tenant_backup_export_sql",
  "tenant_backup_runs_on",
  "tenant_backup_run_get",
  "tenant_backup_history",
  // Idempotent: keyed by the lease holder, a repeat finds the lease already ours (acquire, renew) or
  // already gone (release answers false, which the caller only logs).
  "tenant_backup_lock_acquire",
  "tenant_backup_lock_renew",
  "tenant_backup_lock_release",
  // Idempotent: keyed by the backup id, a repeat finds the run it started, or sets the same values again.
  "tenant_backup_run_start",
  "tenant_backup_run_progress",
  "tenant_backup_run_finish",
  "tenant_backup_runs_expire",
]);

export interface DatabaseRetryInfo {
  /** The SQL function called. */
  fn: string;
  /** The attempt that just failed, from 1. */
  attempt: number;
  error: DatabaseError;
}

export interface DatabaseRetryOptions {
  /** Total attempts, the first included. Default 4. */
  attempts?: number;
  /** Cap of the first backoff; doubles after each failure. Default 200 ms. */
  baseDelayMs?: number;
  /** Upper bound of any one backoff. Default 5 s. */
  maxDelayMs?: number;
  /** Waits between attempts; tests pass a stub. */
  sleep?: (ms: number) => Promise<void>;
  /** Called before each wait, for logging. */
  onRetry?: (info: DatabaseRetryInfo) => void;
  /** Source of jitter in [0, 1); tests pass a fixed one. Default Math.random. */
  random?: () => number;
  /** The functions that may be repeated. Default RETRYABLE_FUNCTIONS. */
  retryable?: ReadonlySet<string>;
}

export function withDatabaseRetries(
  caller: SqlFunctionCaller,
  options: DatabaseRetryOptions = {},
): SqlFunctionCaller {
  const attempts = Math.max(1, Math.floor(options.attempts ?? 4));
  const baseDelayMs = options.baseDelayMs ?? 200;
  const maxDelayMs = options.maxDelayMs ?? 5000;
  const sleep = options.sleep ?? ((ms: number) => delay(ms));
  const random = options.random ?? Math.random;
  const retryable = options.retryable ?? RETRYABLE_FUNCTIONS;

  return {
    kind: caller.kind,
    // A stream that fails half way is not retried here: the backup resumes from its last saved part.
    ...(caller.copyOut
      ? {
          copyOut: (query: string, settings: Record<string, string>) =>
            (caller.copyOut as NonNullable<typeof caller.copyOut>)(query, settings),
        }
      : {}),
    async call<T>(name: string, args: Record<string, unknown>): Promise<T> {
      for (let attempt = 1; ; attempt++) {
        try {
          return await caller.call<T>(name, args);
        } catch (error) {
          if (
            !(error instanceof DatabaseError) ||
            error.code !== "transient" ||
            !retryable.has(name) ||
            attempt >= attempts
          ) {
            throw error;
          }
          options.onRetry?.({ fn: name, attempt, error });
          // Full jitter (a random wait up to the exponential cap) spreads out the many tenants of a daily
          // run that hit the same outage, instead of having them all retry in lockstep.
          const cap = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
          await sleep(Math.floor(random() * cap));
        }
      }
    },
    close: () => caller.close(),
  };
}
