/**
 * The restore's database calls: staging pages and the one-transaction apply (tenant_backup_apply).
 */
import type { TenantDb } from "../db/tenant-db.ts";

export interface ApplyTableSpec {
  name: string;
  row_count: number;
  /** The backup's stored columns, in the order of each row's values. */
  columns: { name: string; type: string }[];
}

/** Per table; the would_* counts are the row counts of the statements the apply ran (null if not reached). */
export interface ApplyTableReport {
  rows_in_backup: number;
  rows_now: number;
  would_insert: number | null;
  would_delete: number | null;
  /** null for a table without a primary key: it is replaced whole. */
  would_change: number | null;
}

export interface ApplyError {
  sqlstate: string;
  message: string;
  detail?: string;
  hint?: string;
  table?: string;
  constraint?: string;
}

export interface ApplyReport {
  success: boolean;
  dry_run: boolean;
  /** replica: app and foreign-key triggers off, keys checked set-based; triggers: ordinary statements. */
  mode: "replica" | "triggers";
  tables: Record<string, ApplyTableReport>;
  warnings: string[];
  /** Milliseconds per step inside the database. */
  timings_ms: Record<string, number>;
  error: ApplyError | null;
}

export type ApplyMode = "auto" | "replica" | "triggers";

export function stagePage(
  db: TenantDb,
  restoreId: string,
  table: string,
  page: number,
  rows: number,
  lines: string,
) {
  return db.caller.call<number>("tenant_backup_stage_page", {
    p_restore_id: restoreId,
    p_table: table,
    p_page: page,
    p_rows: rows,
    p_lines: lines,
  });
}

export function clearStage(db: TenantDb, restoreId: string) {
  return db.caller.call<number>("tenant_backup_stage_clear", { p_restore_id: restoreId });
}

export function applyRestore(
  db: TenantDb,
  args: {
    restoreId: string;
    planId: string;
    tenantId: string;
    tables: ApplyTableSpec[];
    dryRun: boolean;
    allowDroppedColumns: boolean;
    mode: ApplyMode;
  },
): Promise<ApplyReport> {
  return db.caller.call("tenant_backup_apply", {
    p_restore_id: args.restoreId,
    p_plan_id: args.planId,
    p_tenant: args.tenantId,
    p_spec: { tables: args.tables, mode: args.mode, allow_dropped_columns: args.allowDroppedColumns },
    p_dry_run: args.dryRun,
  });
}

export function finishLog(
  db: TenantDb,
  id: number,
  args: {
    status: "completed" | "failed";
    records: number;
    error: string | null;
    details: Record<string, unknown>;
  },
) {
  return db.caller.call<boolean>("tenant_backup_log_finish", {
    p_id: id,
    p_status: args.status,
    p_records: args.records,
    p_error: args.error,
    p_details: args.details,
  });
}
