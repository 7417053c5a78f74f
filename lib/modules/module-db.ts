/**
 * The modules' SQL functions (supabase/migrations/20261202000300_tenant_backup_modules.sql; the import
 * with its validation rules, 20261202000390), typed; each call is one transaction, over either database path.
 */
import type { ExportPage, TenantDb } from "../db/tenant-db.ts";
import type { ImportRule } from "./rules-hook.ts";

/** A tenant's row count of each table. */
export function moduleCounts(db: TenantDb, planId: string, tenantId: string, tables: string[]) {
  return db.caller.call<Record<string, number>>("tenant_backup_module_counts", {
    p_plan_id: planId,
    p_tenant: tenantId,
    p_tables: tables,
  });
}

/** Per column: the labels of its enum type, the check constraints on it alone. */
export function columnRules(db: TenantDb, planId: string, table: string) {
  return db.caller.call<Record<string, { enum: string[] | null; checks: string[] | null }>>(
    "tenant_backup_module_column_rules",
    { p_plan_id: planId, p_table: table },
  );
}

/** The direct path's export query for COPY … (FORMAT csv, HEADER), and the settings it needs. */
export function csvQuery(
  db: TenantDb,
  args: { planId: string; table: string; tenantId: string; guard: boolean },
) {
  return db.caller.call<{ query: string; settings: Record<string, string> }>(
    "tenant_backup_module_csv_query",
    {
      p_plan_id: args.planId,
      p_table: args.table,
      p_tenant: args.tenantId,
      p_guard: args.guard,
    },
  );
}

/** The PostgREST path's page of the same export, after `after` (a page's last_key; null at the start). */
export function modulePage(
  db: TenantDb,
  args: {
    planId: string;
    table: string;
    tenantId: string;
    after: string[] | null;
    limit: number;
    guard: boolean;
  },
) {
  return db.caller.call<ExportPage>("tenant_backup_module_page", {
    p_plan_id: args.planId,
    p_table: args.table,
    p_tenant: args.tenantId,
    p_after: args.after,
    p_limit: args.limit,
    p_guard: args.guard,
  });
}

export interface ImportAnswer {
  success: boolean;
  dry_run: boolean;
  summary: {
    would_insert: number;
    would_update: number;
    unchanged: number;
    refused: number;
    inserted: number;
    updated: number;
  };
  errors: { line: number | null; column: string | null; message: string }[];
  errors_total: number;
}

/** The checks and, unless a dry run or a row is refused, the writes of a staged import, in one transaction. */
export function applyImport(
  db: TenantDb,
  args: {
    importId: string;
    planId: string;
    tenantId: string;
    table: string;
    columns: string[];
    mode: "upsert" | "insert";
    dryRun: boolean;
    logId: number;
    holder: string;
    captureId: string;
    details: Record<string, unknown>;
    /** The table's validation rules, run on the tenant's rows before and after the writes. */
    rules: ImportRule[];
    now: Date;
  },
) {
  return db.caller.call<ImportAnswer>("tenant_backup_module_import", {
    p_import_id: args.importId,
    p_plan_id: args.planId,
    p_tenant: args.tenantId,
    p_table: args.table,
    p_columns: args.columns,
    p_mode: args.mode,
    p_dry_run: args.dryRun,
    p_log_id: args.logId,
    p_holder: args.holder,
    p_capture_id: args.captureId,
    p_details: args.details,
    p_rules: args.rules,
    p_now: args.now.toISOString(),
  });
}
