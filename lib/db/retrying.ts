/**
 * Retries around a database caller, so that both backends stay single-attempt and the policy lives in one
 * place. Only "transient" failures are retried, and only of functions that are safe to call twice: a
 * transient failure (a lost connection, a gateway timeout) can come after the function committed, with the
 * answer lost on the way back, so a second call must not do the work a second time.
 */
import { type RetryPolicy, retrier } from "../retry.ts";
import { type CallOptions, DatabaseError, type SqlFunctionCaller } from "./port.ts";

/**
 * The functions a retry may repeat. An allow-list, not a deny-list, so that a new function (a restore's
 * delete + insert, say) is not retried until someone has checked that running it twice is harmless.
 * Not here, on purpose: tenant_backup_log (each call inserts another backup_logs row);
 * tenant_backup_validation_check (its usual transient failure is its own time limit, and a rule not
 * checked is reported as such rather than tried again).
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
  "tenant_backup_export_columns_queries",
  "tenant_backup_export_sql",
  "tenant_backup_runs_on",
  "tenant_backup_run_get",
  "tenant_backup_history",
  "tenant_backup_stage_progress",
  "tenant_backup_snapshot_present",
  "tenant_backup_snapshot_page",
  "tenant_backup_snapshot_query",
  "tenant_backup_undo_read",
  "tenant_backup_undo_pages_query",
  "tenant_backup_undo_pending",
  "tenant_backup_undo_reused",
  "tenant_backup_module_counts",
  "tenant_backup_module_column_rules",
  "tenant_backup_module_csv_query",
  "tenant_backup_module_page",
  "tenant_backup_validation_rule_list",
  // Idempotent: keyed by the lease holder, a repeat finds the lease already ours (acquire, renew) or
  // already gone (release answers false, which the caller only logs).
  "tenant_backup_lock_acquire",
  "tenant_backup_lock_acquire_scheduled",
  "tenant_backup_lock_renew",
  "tenant_backup_lock_release",
  // Idempotent: keyed by the backup id, a repeat finds the run it started, or sets the same values again.
  "tenant_backup_run_start",
  "tenant_backup_run_progress",
  "tenant_backup_run_finish",
  // Idempotent: a repeat renews the lease it already renewed and saves the same progress again.
  "tenant_backup_run_save",
  "tenant_backup_runs_expire",
  // Idempotent: a repeat replaces the run's copy (the caller only ever sees the last one) or finds it gone.
  "tenant_backup_snapshot_take",
  "tenant_backup_snapshot_drop",
  // Idempotent: an upsert keyed by restore, table and page, with the same lines on a repeat.
  "tenant_backup_stage_page",
  // Idempotent: a repeat adds nothing new, or finds the claim already ended (answers false, only logged).
  "tenant_backup_work_add",
  "tenant_backup_work_finish",
  // Idempotent: a repeat finds the undo point already dropped.
  "tenant_backup_undo_clear",
  // Idempotent: an upsert keyed by the rule itself; a repeat finds the rule it stored.
  "tenant_backup_validation_rule_add",
]);

export interface DatabaseRetryInfo {
  /** The SQL function called. */
  fn: string;
  /** The attempt that just failed, from 1. */
  attempt: number;
  error: DatabaseError;
}

export interface DatabaseRetryOptions extends RetryPolicy {
  /** Called before each wait, for logging. */
  onRetry?: (info: DatabaseRetryInfo) => void;
  /** The functions that may be repeated. Default RETRYABLE_FUNCTIONS. */
  retryable?: ReadonlySet<string>;
}

export function withDatabaseRetries(
  caller: SqlFunctionCaller,
  options: DatabaseRetryOptions = {},
): SqlFunctionCaller {
  const retry = retrier(options);
  const retryable = options.retryable ?? RETRYABLE_FUNCTIONS;

  return {
    kind: caller.kind,
    // A stream that fails half way is not retried here: the backup resumes from its last saved part.
    ...(caller.copyOut
      ? {
          copyOut: (query: string, settings: Record<string, string>, snapshot?: string) =>
            (caller.copyOut as NonNullable<typeof caller.copyOut>)(query, settings, snapshot),
        }
      : {}),
    ...(caller.copyText
      ? {
          copyText: (query: string, settings: Record<string, string>, snapshot?: string) =>
            (caller.copyText as NonNullable<typeof caller.copyText>)(query, settings, snapshot),
        }
      : {}),
    ...(caller.copyValues
      ? {
          copyValues: (query: string, settings: Record<string, string>) =>
            (caller.copyValues as NonNullable<typeof caller.copyValues>)(query, settings),
        }
      : {}),
    // Retried like a call: the statements before the COPY make it safe to repeat (see TenantDb's use).
    ...(caller.copyIn
      ? {
          copyIn: (
            statement: string,
            data: readonly Uint8Array[],
            before?: { text: string; values: unknown[] }[],
          ) =>
            retry(
              () => (caller.copyIn as NonNullable<typeof caller.copyIn>)(statement, data, before),
              (error) => error instanceof DatabaseError && error.code === "transient",
              (attempt, error) =>
                options.onRetry?.({ fn: "copy in", attempt, error: error as DatabaseError }),
            ),
        }
      : {}),
    ...(caller.copyCsv
      ? {
          copyCsv: (query: string, settings: Record<string, string>) =>
            (caller.copyCsv as NonNullable<typeof caller.copyCsv>)(query, settings),
        }
      : {}),
    // Maintenance the restore can do without: not retried.
    ...(caller.vacuum
      ? {
          vacuum: (tables: readonly { schema: string; name: string }[], timeoutMs: number) =>
            (caller.vacuum as NonNullable<typeof caller.vacuum>)(tables, timeoutMs),
        }
      : {}),
    // Neither is a held transaction: a failure ends the call's moment, and the backup's run handles it.
    ...(caller.holdSnapshot
      ? { holdSnapshot: () => (caller.holdSnapshot as NonNullable<typeof caller.holdSnapshot>)() }
      : {}),
    call: <T>(name: string, args: Record<string, unknown>, callOptions?: CallOptions) =>
      retry(
        () => caller.call<T>(name, args, callOptions),
        (error) => error instanceof DatabaseError && error.code === "transient" && retryable.has(name),
        (attempt, error) => options.onRetry?.({ fn: name, attempt, error: error as DatabaseError }),
      ),
    close: () => caller.close(),
  };
}
