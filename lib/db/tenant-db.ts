/**
 * Typed access to the project's SQL functions, over either backend. Each method is one function call,
 * one transaction; the tenant layout (root table, key column, schema) is fixed per instance.
 */
import { pipeline } from "node:stream";
import type { LogEntry, LogRow, RestoreError } from "../api-answers.ts";
import type { CreatedBy } from "../auth/principal.ts";
import { withoutFirstLines } from "../backup/lines.ts";
import type { ManifestFile } from "../backup/manifest.ts";
import type { Catalog } from "../catalog.ts";
import type { Frequency, Schedule } from "../schedule/slots.ts";
import type { RawResult } from "../validation/check.ts";
import type { RuleInput, StoredRule } from "../validation/rules.ts";
import type { HeldSnapshot, SqlFunctionCaller } from "./port.ts";

export interface TenantLayout {
  rootTable: string;
  key: string;
  schema: string;
}

export interface Tenant {
  id: string;
  name: string | null;
}

/** What tenant_backup_export_columns_queries answers: a select per table, and the settings for them. */
export interface LiveQueries {
  queries: Record<string, string>;
  settings: Record<string, string>;
}

export interface ExportPage {
  rows: number;
  bytes: number;
  /** The rows, one JSON array of column texts a line, separated by "\n" (no trailing newline). */
  data: string;
  /** Where the next page starts: the last row's number in the run's copy, as text. null when rows is 0. */
  last_key: string[] | null;
  /** true when the table has no more rows for the tenant after this page. */
  done: boolean;
}

export type LockResult =
  | { acquired: true; expires_at: string }
  | { acquired: false; operation: string; holder: string; expires_at: string };

/** One tenant's backup due for one schedule slot, as the scheduled run's calls share them. */
export interface WorkItem {
  organization_id: string;
  /** The slot's start, ISO 8601. */
  slot_start: string;
}

export type RunStatus = "running" | "completed" | "failed";

export interface BackupRun {
  backup_id: string;
  organization_id: string;
  backup_date: string;
  backup_type: string;
  status: RunStatus;
  progress?: unknown;
  log_id: number | null;
  summary_path: string | null;
  records_count: number | null;
  file_size: number | null;
  error_message: string | null;
  started_at: string;
  updated_at: string;
  completed_at: string | null;
}

export class TenantDb {
  constructor(
    readonly caller: SqlFunctionCaller,
    readonly layout: TenantLayout,
  ) {}

  get kind(): string {
    return this.caller.kind;
  }

  private get layoutArgs() {
    return { p_root: this.layout.rootTable, p_key: this.layout.key, p_schema: this.layout.schema };
  }

  /** The tenant catalog, kept in the database as a plan that page reads refer to by `plan_id`. */
  catalog(): Promise<Catalog> {
    return this.caller.call("tenant_backup_prepare", this.layoutArgs);
  }

  listTenants(): Promise<Tenant[]> {
    return this.caller.call("tenant_backup_list_tenants", {
      p_root: this.layout.rootTable,
      p_schema: this.layout.schema,
    });
  }

  /** The tenant with that id, or null when there is none. */
  getTenant(id: string): Promise<Tenant | null> {
    return this.caller.call("tenant_backup_get_tenant", {
      p_id: id,
      p_root: this.layout.rootTable,
      p_schema: this.layout.schema,
    });
  }

  /**
   * The id as the root key's canonical text (as PostgreSQL prints a value of the key's type), or why it is
   * not a value of that type. Leases, limits, storage keys and logs use the canonical text only.
   */
  tenantKey(id: string): Promise<TenantKey> {
    return this.caller.call("tenant_backup_tenant_key", {
      p_id: id,
      p_root: this.layout.rootTable,
      p_schema: this.layout.schema,
    });
  }

  /** backup_logs rows of a tenant, newest first; `beforeId` pages on from the last row seen. */
  history(tenantId: string, limit: number, beforeId?: number): Promise<LogRow[]> {
    return this.caller.call("tenant_backup_history", {
      p_org: tenantId,
      p_limit: limit,
      p_before_id: beforeId,
    });
  }

  /**
   * Copies the tenant's rows of every table, at one moment, for the run `backupId` to read from
   * (snapshotPage, snapshotStream); answers the copied row count of each table.
   */
  takeSnapshot(args: {
    backupId: string;
    planId: string;
    tenantId: string;
    /** Only these tables (default: all). */
    tables?: string[];
    /** Inside this held transaction, at its moment (default: a moment of its own). */
    within?: HeldSnapshot;
  }): Promise<SnapshotTaken> {
    return (args.within ?? this.caller).call("tenant_backup_snapshot_take", {
      p_backup_id: args.backupId,
      p_plan_id: args.planId,
      p_tenant: args.tenantId,
      p_tables: args.tables,
    });
  }

  /** A moment of the database held for this call's reads (liveStream); null on the PostgREST path. */
  holdSnapshot(): Promise<HeldSnapshot> | null {
    return this.caller.holdSnapshot ? this.caller.holdSnapshot() : null;
  }

  /**
   * The selects of the tenant's rows of every live table (or of `tables`), stored columns only, in export
   * order, and the settings their text depends on: one call for the whole tenant (liveStream runs them).
   */
  liveQueries(args: { planId: string; tenantId: string; tables?: string[] }): Promise<LiveQueries> {
    return this.caller.call("tenant_backup_export_columns_queries", {
      p_plan_id: args.planId,
      p_tenant: args.tenantId,
      p_tables: args.tables,
    });
  }

  /**
   * A live table's rows, as liveQueries answered the select of them, read at the held moment as COPY
   * text rows (lib/backup/copy-text.ts makes them lines). Direct connection only.
   */
  liveStream(args: { queries: LiveQueries; table: string; snapshot: HeldSnapshot }) {
    const copyText = this.caller.copyText;
    if (!copyText) throw new Error("streaming export needs a direct database connection");
    const query = args.queries.queries[args.table];
    if (query === undefined) throw new Error(`no export query for ${args.table}`);
    return copyText.call(this.caller, query, args.queries.settings, args.snapshot.id);
  }

  /** Whether the run's copy is still there: a database restart empties it. */
  snapshotPresent(backupId: string): Promise<boolean> {
    return this.caller.call("tenant_backup_snapshot_present", { p_backup_id: backupId });
  }

  /** Drops the run's copy; answers how many rows it held. */
  dropSnapshot(backupId: string): Promise<number> {
    return this.caller.call("tenant_backup_snapshot_drop", { p_backup_id: backupId });
  }

  /** A page of the run's copy of a table after row `after` (0: the start); last_key is [row number]. */
  snapshotPage(args: {
    backupId: string;
    table: string;
    after: number;
    limit: number;
    maxBytes?: number;
  }): Promise<ExportPage> {
    return this.caller.call("tenant_backup_snapshot_page", {
      p_backup_id: args.backupId,
      p_table: args.table,
      p_after: args.after,
      p_limit: args.limit,
      p_max_bytes: args.maxBytes,
    });
  }

  /** The run's copy of a table after row `after`, as one stream of lines. Direct connection only. */
  async snapshotStream(args: { backupId: string; table: string; after: number }) {
    const copyOut = this.caller.copyOut;
    if (!copyOut) throw new Error("streaming export needs a direct database connection");
    const { query, settings } = await this.caller.call<{ query: string; settings: Record<string, string> }>(
      "tenant_backup_snapshot_query",
      { p_backup_id: args.backupId, p_table: args.table, p_after: args.after },
    );
    return copyOut.call(this.caller, query, settings);
  }

  /** true on a direct connection: table exports can stream (snapshotStream) instead of paging. */
  get canStream(): boolean {
    return typeof this.caller.copyOut === "function";
  }

  acquireLock(tenantId: string, operation: string, holder: string, ttlSeconds: number): Promise<LockResult> {
    return this.caller.call("tenant_backup_lock_acquire", {
      p_org: tenantId,
      p_operation: operation,
      p_holder: holder,
      p_ttl_seconds: ttlSeconds,
    });
  }

  /** acquireLock, and when acquired, the tenant's schedule row read under the lease, in one call. */
  acquireLockReadingSchedule(
    tenantId: string,
    operation: string,
    holder: string,
    ttlSeconds: number,
  ): Promise<(LockResult & { acquired: false }) | { acquired: true; schedule: ScheduleRow | null }> {
    return this.caller.call("tenant_backup_lock_acquire_scheduled", {
      p_org: tenantId,
      p_operation: operation,
      p_holder: holder,
      p_ttl_seconds: ttlSeconds,
    });
  }

  renewLock(tenantId: string, holder: string, ttlSeconds: number): Promise<boolean> {
    return this.caller.call("tenant_backup_lock_renew", {
      p_org: tenantId,
      p_holder: holder,
      p_ttl_seconds: ttlSeconds,
    });
  }

  releaseLock(tenantId: string, holder: string): Promise<boolean> {
    return this.caller.call("tenant_backup_lock_release", { p_org: tenantId, p_holder: holder });
  }

  log(entry: LogEntry): Promise<number> {
    return this.caller.call("tenant_backup_log", { p_entry: entry });
  }

  startRun(args: {
    backupId: string;
    tenantId: string;
    date: string;
    type: string;
    logType: string;
    /** Recorded in the run's backup_logs row (null: not known). */
    createdBy?: CreatedBy | null;
    note?: string | null;
  }): Promise<BackupRun> {
    return this.caller.call("tenant_backup_run_start", {
      p_backup_id: args.backupId,
      p_org: args.tenantId,
      p_date: args.date,
      p_type: args.type,
      p_log_type: args.logType,
      // As JSON text: a bare string would not pass as jsonb over the direct connection.
      p_created_by: args.createdBy ? JSON.stringify(args.createdBy) : null,
      p_note: args.note ?? null,
    });
  }

  saveProgress(backupId: string, progress: unknown): Promise<boolean> {
    return this.caller.call("tenant_backup_run_progress", { p_backup_id: backupId, p_progress: progress });
  }

  /**
   * Renews the lease and, only when that took, saves the run's progress: one call. `lease` false means
   * the lease was lost (nothing saved); `run` false, that nothing was saved.
   */
  saveProgressUnderLease(
    lease: { tenantId: string; holder: string },
    ttlSeconds: number,
    backupId: string,
    progress: unknown,
  ): Promise<{ lease: boolean; run: boolean }> {
    return this.caller.call("tenant_backup_run_save", {
      p_org: lease.tenantId,
      p_holder: lease.holder,
      p_ttl_seconds: ttlSeconds,
      p_backup_id: backupId,
      p_progress: progress,
    });
  }

  finishRun(args: {
    backupId: string;
    status: "completed" | "failed";
    summaryPath: string | null;
    records: number;
    bytes: number;
    tables: number;
    error: string | null;
    details: Record<string, unknown>;
  }): Promise<BackupRun> {
    return this.caller.call("tenant_backup_run_finish", {
      p_backup_id: args.backupId,
      p_status: args.status,
      p_summary_path: args.summaryPath,
      p_records: args.records,
      p_bytes: args.bytes,
      p_tables: args.tables,
      p_error: args.error,
      p_details: args.details,
    });
  }

  runsOn(date: string, type?: string): Promise<BackupRun[]> {
    return this.caller.call("tenant_backup_runs_on", { p_date: date, p_type: type });
  }

  /** Closes as failed the runs of days before `date` still marked running; answers how many. */
  expireRuns(date: string): Promise<number> {
    return this.caller.call("tenant_backup_runs_expire", { p_before: date });
  }

  /** The tenant's runs still marked running, with their progress (the chunks they hold on to). */
  runningRuns(tenantId: string): Promise<BackupRun[]> {
    return this.caller.call("tenant_backup_runs_running", { p_org: tenantId });
  }

  getRun(backupId: string): Promise<BackupRun | null> {
    return this.caller.call("tenant_backup_run_get", { p_backup_id: backupId });
  }

  // --- Operations: admin roles, rate limits, health. ---

  /** The user's rows in the app's profile table: role and organization, as text; [] when there is none. */
  userRoles(args: {
    userId: string;
    table: string;
    idColumn: string;
    roleColumn: string;
    organizationColumn: string;
  }): Promise<UserRoleRow[]> {
    return this.caller.call("tenant_backup_user_roles", {
      p_user_id: args.userId,
      p_table: args.table,
      p_id_column: args.idColumn,
      p_role_column: args.roleColumn,
      p_org_column: args.organizationColumn,
      p_schema: this.layout.schema,
    });
  }

  /** Takes the tenant's slot for `kind` when the previous one is at least `minIntervalSeconds` old. */
  takeRateLimit(tenantId: string, kind: string, minIntervalSeconds: number): Promise<RateLimitTake> {
    return this.caller.call("tenant_backup_rate_limit_take", {
      p_org: tenantId,
      p_kind: kind,
      p_min_interval_seconds: minIntervalSeconds,
    });
  }

  /** Gives back a slot taken at `takenAt` (previous: what it replaced), unless someone took it since. */
  releaseRateLimit(
    tenantId: string,
    kind: string,
    takenAt: string,
    previousAt: string | null,
  ): Promise<boolean> {
    return this.caller.call("tenant_backup_rate_limit_release", {
      p_org: tenantId,
      p_kind: kind,
      p_taken_at: takenAt,
      p_previous_at: previousAt,
    });
  }

  /** Each tenant's newest completed, not deleted backup run (or only `tenantId`'s). */
  newestCompletedBackups(tenantId?: string): Promise<NewestBackup[]> {
    return this.caller.call("tenant_backup_newest_completed", { p_org: tenantId });
  }

  // --- Schedules: each tenant's settings and when its last scheduled backup completed. ---

  /** The tenant's schedule row, or null when it has none (it follows the default). */
  getSchedule(tenantId: string): Promise<ScheduleRow | null> {
    return this.caller.call("tenant_backup_schedule_get", { p_org: tenantId });
  }

  /** Every schedule row, with the counts of each one's last scheduled backup. */
  listSchedules(): Promise<ScheduleListRow[]> {
    return this.caller.call("tenant_backup_schedules_list", {});
  }

  /** Sets the tenant's schedule, keeping when it last ran. */
  putSchedule(tenantId: string, schedule: Schedule, nextRunAt: Date | null): Promise<ScheduleRow> {
    return this.caller.call("tenant_backup_schedule_put", {
      p_org: tenantId,
      p_frequency: schedule.frequency,
      p_time_of_day: schedule.time_of_day,
      p_day_of_week: schedule.day_of_week,
      p_enabled: schedule.enabled,
      p_next_run_at: nextRunAt?.toISOString() ?? null,
    });
  }

  /** Records that scheduled backup `backupId` of the tenant completed at `at`. */
  scheduleRan(tenantId: string, at: Date, backupId: string, nextRunAt: Date | null): Promise<ScheduleRow> {
    return this.caller.call("tenant_backup_schedule_ran", {
      p_org: tenantId,
      p_at: at.toISOString(),
      p_backup_id: backupId,
      p_next_run_at: nextRunAt?.toISOString() ?? null,
    });
  }

  /** Stored bytes of the tenant's last `limit` completed daily and manual backups before `backupId`, newest first. */
  recentSizes(tenantId: string, backupId: string, limit: number): Promise<number[]> {
    return this.caller.call("tenant_backup_recent_sizes", {
      p_org: tenantId,
      p_before_backup_id: backupId,
      p_limit: limit,
    });
  }

  // --- Verification drills: their outcomes, by backup and by tenant. ---

  /** Records the outcome of one drill of a backup. */
  recordVerification(args: {
    tenantId: string;
    backupId: string;
    status: "passed" | "failed";
    error: string | null;
    details: Record<string, unknown>;
    at: Date;
  }): Promise<unknown> {
    return this.caller.call("tenant_backup_verification_record", {
      p_org: args.tenantId,
      p_backup_id: args.backupId,
      p_status: args.status,
      p_error: args.error,
      p_details: args.details,
      p_at: args.at.toISOString(),
    });
  }

  /** The newest drill of each of these backups (those never drilled are absent). */
  verificationsOf(backupIds: string[]): Promise<Verification[]> {
    return this.caller.call("tenant_backup_verifications_of", { p_backup_ids: backupIds });
  }

  /** When each tenant was last drilled, any of its backups: organization id → time. */
  lastDrills(): Promise<Record<string, string>> {
    return this.caller.call("tenant_backup_last_drills", {});
  }

  // --- The scheduled run's work items, shared by calls made side by side. ---

  /**
   * Adds due tenants as work of their slots (kept when already there); forgets slots before `forgetBefore`.
   * Answers the items open now, and which of `items`' tenants already have theirs done.
   */
  addWork(items: WorkItem[], forgetBefore: Date): Promise<{ open: number; done: string[] }> {
    return this.caller.call("tenant_backup_work_add", {
      p_items: items,
      p_forget_before: forgetBefore.toISOString(),
    });
  }

  /** Claims up to `limit` items no other call holds, for `ttlSeconds`. */
  claimWork(holder: string, limit: number, ttlSeconds: number): Promise<WorkItem[]> {
    return this.caller.call("tenant_backup_work_claim", {
      p_holder: holder,
      p_limit: limit,
      p_ttl_seconds: ttlSeconds,
    });
  }

  /** Ends `holder`'s claim on the item; false when the claim had expired and another call took it. */
  finishWork(holder: string, item: WorkItem, state: "done" | "retry" | "due"): Promise<boolean> {
    return this.caller.call("tenant_backup_work_finish", {
      p_holder: holder,
      p_org: item.organization_id,
      p_slot_start: item.slot_start,
      p_state: state,
    });
  }

  // --- Restore: staging pages, the one-transaction apply, and its log row. ---

  /**
   * Stages one page of a table's backup rows (JSON-array lines) for the restore `restoreId`. Lines read
   * from a backup come as their UTF-8 bytes; on a direct connection they are streamed into the staging
   * table by COPY as they are, never decoded nor copied into one query parameter (three copies of a page
   * holding 5 MB values, in pg's message writers). Either way the page replaces one staged before under
   * the same number, so a repeated call stages it once.
   */
  async stageRestorePage(args: {
    restoreId: string;
    table: string;
    page: number;
    rows: number;
    /** The page's text, or its UTF-8 bytes as the buffers that hold them one after the other. */
    lines: string | readonly Buffer[];
  }): Promise<void> {
    const copyIn = this.caller.copyIn;
    if (copyIn && typeof args.lines !== "string") {
      // CSV whose quote (0x01) and delimiter (0x02) never occur in the lines (JSON escapes control
      // characters), so the page goes as one quoted field, its "\n"s included, byte for byte.
      const head = Buffer.from(
        `${args.restoreId}\x02\x01${args.table}\x01\x02${args.page}\x02${args.rows}\x02\x01`,
      );
      await copyIn.call(
        this.caller,
        "copy public.tenant_backup_stage (restore_id, table_name, page, row_count, lines) from stdin " +
          "with (format csv, quote e'\\x01', delimiter e'\\x02')",
        [head, ...args.lines, Buffer.from("\x01\n")],
        [
          {
            text: "delete from public.tenant_backup_stage where restore_id = $1 and table_name = $2 and page = $3",
            values: [args.restoreId, args.table, args.page],
          },
        ],
      );
      return;
    }
    await this.caller.call("tenant_backup_stage_page", {
      p_restore_id: args.restoreId,
      p_table: args.table,
      p_page: args.page,
      p_rows: args.rows,
      p_lines: typeof args.lines === "string" ? args.lines : Buffer.concat(args.lines),
    });
  }

  /**
   * On a direct connection, opens the typed staging of backup table `spec` for the restore `restoreId`
   * (tenant_backup_stage_typed_open): answers the table to COPY its rows into, or null when it is staged
   * as lines (through the Supabase API, a table not restored by hash, one already staged as lines, or one
   * the tenant has rows in: comparing lines by hash types only the rows that differ).
   */
  async openTypedStage(args: {
    restoreId: string;
    tenantId: string;
    planId: string;
    spec: { name: string; columns: { name: string; type: string }[] };
  }): Promise<string | null> {
    if (!this.caller.copyIn) return null;
    const opened = await this.caller.call<{ relation: string } | null>("tenant_backup_stage_typed_open", {
      p_restore_id: args.restoreId,
      p_tenant: args.tenantId,
      p_plan_id: args.planId,
      p_spec: args.spec,
    });
    return opened?.relation ?? null;
  }

  /**
   * Stages one page of a table's rows into its typed staging table `relation` (openTypedStage): `text`,
   * `rows` rows of COPY's text format, each the page's number, the md5 of the row's backup line and the
   * row's values (typedStageRows). PostgreSQL reads every value with its column's type, under the settings
   * the lines were exported with. The page replaces one staged before under the same number. Throws the
   * database's refusal (a DatabaseError) of a value.
   */
  async stageTypedPage(args: {
    restoreId: string;
    table: string;
    relation: string;
    page: number;
    rows: number;
    text: Buffer;
  }): Promise<void> {
    const copyIn = this.caller.copyIn;
    if (!copyIn) throw new Error("typed staging needs a direct connection");
    await copyIn.call(
      this.caller,
      `copy ${args.relation} from stdin`,
      [args.text],
      [
        {
          text:
            "select set_config('datestyle', 'ISO, YMD', true), set_config('intervalstyle', 'postgres', true), " +
            "set_config('timezone', 'UTC', true), public.tenant_backup_stage_typed_page($1, $2, $3, $4)",
          values: [args.restoreId, args.table, args.page, args.rows],
        },
      ],
    );
  }

  /** Drops the typed staging of a table and what was staged of it, to stage it again as lines. */
  async dropTypedStage(restoreId: string, table: string): Promise<void> {
    await this.caller.call("tenant_backup_stage_typed_drop", { p_restore_id: restoreId, p_table: table });
  }

  /** Per table, what the restore `restoreId` has staged so far: pages, their rows, the highest page. */
  restoreStageProgress(restoreId: string): Promise<StageProgress> {
    return this.caller.call("tenant_backup_stage_progress", { p_restore_id: restoreId });
  }

  /** Drops whatever the restore `restoreId` staged. */
  clearRestoreStage(restoreId: string): Promise<number> {
    return this.caller.call("tenant_backup_stage_clear", { p_restore_id: restoreId });
  }

  /**
   * Has PostgreSQL analyze those of `tables` (tenant tables of plan `planId`) that autovacuum would analyze
   * next, so that the apply is planned on statistics that count the tenant's rows as they are
   * (tenant_backup_analyze_stale): the columns those plans read (keys, indexed columns), not the others,
   * which autovacuum analyzes later. A table another session holds is waited for, as autovacuum's vacuum is
   * (PostgreSQL then cancels it), 10 s at most. Answers the tables it asked PostgreSQL to analyze, less any
   * still held after that.
   */
  analyzeStale(planId: string, tables: string[]): Promise<string[]> {
    return this.caller.call("tenant_backup_analyze_stale", { p_plan_id: planId, p_tables: tables });
  }

  /**
   * On a direct connection, vacuums those of `tables` (of plan `planId`) whose dead rows autovacuum would
   * clear next (tenant_backup_vacuum_due), in at most `timeoutMs`; answers them. Through the Supabase API,
   * which cannot run VACUUM, answers none and asks nothing.
   */
  async vacuumDue(planId: string, tables: string[], timeoutMs: number): Promise<string[]> {
    const vacuum = this.caller.vacuum;
    if (!vacuum) return [];
    const due = await this.caller.call<{ schema: string; name: string }[]>("tenant_backup_vacuum_due", {
      p_plan_id: planId,
      p_tables: tables,
    });
    await vacuum.call(this.caller, due, timeoutMs);
    return due.map((t) => t.name);
  }

  /**
   * A restore's apply (tenant_backup_apply_live): in one transaction a real restore locks the restored
   * tables against writes and captures the tenant's rows as undo point `captureId`; then, dry run or not,
   * it applies, closes log row `logId`, frees the lease of `holder` and clears the staged rows.
   */
  applyRestoreLive(args: {
    restoreId: string;
    planId: string;
    tenantId: string;
    tables: ApplyTableSpec[];
    dryRun: boolean;
    allowDroppedColumns: boolean;
    mode: ApplyMode;
    logId: number;
    holder: string;
    captureId: string;
  }): Promise<ApplyReport> {
    return this.caller.call("tenant_backup_apply_live", {
      p_restore_id: args.restoreId,
      p_plan_id: args.planId,
      p_tenant: args.tenantId,
      p_spec: { tables: args.tables, mode: args.mode, allow_dropped_columns: args.allowDroppedColumns },
      p_dry_run: args.dryRun,
      p_log_id: args.logId,
      p_holder: args.holder,
      p_capture_id: args.captureId,
    });
  }

  /**
   * A dry-run restore's apply that also checks `rules` against the backup's rows
   * (tenant_backup_apply_checked): the same statements as a dry run of applyRestoreLive, rolled back; it
   * closes log row `logId`, frees the lease of `holder` and clears the staged rows as that does.
   */
  applyRestoreChecked(args: {
    restoreId: string;
    planId: string;
    tenantId: string;
    tables: ApplyTableSpec[];
    mode: ApplyMode;
    logId: number;
    holder: string;
    rules: StoredRule[];
    now: Date;
    sample: number;
  }): Promise<ApplyReport & { validation: RawResult[] | null }> {
    return this.caller.call("tenant_backup_apply_checked", {
      p_restore_id: args.restoreId,
      p_plan_id: args.planId,
      p_tenant: args.tenantId,
      p_spec: { tables: args.tables, mode: args.mode },
      p_log_id: args.logId,
      p_holder: args.holder,
      p_rules: args.rules,
      p_now: args.now.toISOString(),
      p_sample: args.sample,
    });
  }

  // --- Validation rules (schema-level) and their checks. ---

  /** Every rule, oldest first. */
  validationRules(): Promise<StoredRule[]> {
    return this.caller.call("tenant_backup_validation_rule_list", {});
  }

  /** Stores a rule (the same rule again only updates `enabled`), or says which field PostgreSQL refused. */
  addValidationRule(
    rule: RuleInput,
  ): Promise<{ rule: StoredRule } | { error: { field: string; message: string } }> {
    return this.caller.call("tenant_backup_validation_rule_add", {
      p_table: rule.table,
      p_column: rule.column,
      p_kind: rule.kind,
      p_params: rule.params,
      p_enabled: rule.enabled,
    });
  }

  /** Removes a rule; false when there was none with that id. */
  deleteValidationRule(id: string): Promise<boolean> {
    return this.caller.call("tenant_backup_validation_rule_delete", { p_id: id });
  }

  /**
   * How many of the tenant's rows break `rule`, and the keys of the first `sample`: one query, cut after
   * `timeoutMs` on a direct connection (through PostgREST, after the function's own 55 s).
   */
  validationCheck(args: {
    planId: string;
    tenantId: string;
    rule: StoredRule;
    now: Date;
    sample: number;
    timeoutMs: number;
  }): Promise<{ violations: number; sample_keys: Record<string, string>[] }> {
    return this.caller.call(
      "tenant_backup_validation_check",
      {
        p_plan_id: args.planId,
        p_tenant: args.tenantId,
        p_rule: args.rule,
        p_now: args.now.toISOString(),
        p_sample: args.sample,
      },
      { statementTimeoutMs: args.timeoutMs },
    );
  }

  /**
   * The page of a table of an undo point captured by an apply that holds its row `after` + 1 (pages are
   * bounded by rows and bytes); `first` is the rows before that page. Rows 0 and done past its end.
   */
  undoRead(
    captureId: string,
    table: string,
    after: number,
  ): Promise<{ first: number; rows: number; lines: string; done: boolean }> {
    return this.caller.call("tenant_backup_undo_read", {
      p_capture_id: captureId,
      p_table: table,
      p_after: after,
    });
  }

  /**
   * The rows of a table of a captured undo point after its first `after`, one line each: its stored pages
   * streamed as they are (COPY's binary format), from the one holding row `after` + 1. Direct connection
   * only.
   */
  async undoStream(captureId: string, table: string, after: number) {
    const copyValues = this.caller.copyValues;
    if (!copyValues) throw new Error("streaming an undo point needs a direct database connection");
    const { query, first } = await this.caller.call<{ query: string; first: number }>(
      "tenant_backup_undo_pages_query",
      { p_capture_id: captureId, p_table: table, p_after: after },
    );
    const pages = await copyValues.call(this.caller, query, {});
    if (after <= first) return pages;
    // The page's rows up to `after` were stored by an earlier call. Either stream's end or failure ends both.
    return pipeline(pages, withoutFirstLines(after - first), () => {});
  }

  /** Drops a captured undo point once it is stored as a backup. */
  clearUndo(captureId: string): Promise<number> {
    return this.caller.call("tenant_backup_undo_clear", { p_capture_id: captureId });
  }

  /**
   * The tables of the tenant's captured undo points (not stored yet) that the apply left exactly as the
   * restored backup has them: their undo entry is that backup's entry (same chunks).
   */
  undoReused(tenantId: string): Promise<ReusedUndoTable[]> {
    return this.caller.call("tenant_backup_undo_reused", { p_org: tenantId });
  }

  /** The tenant's captured undo points not stored yet, oldest first. */
  pendingUndo(tenantId: string): Promise<string[]> {
    return this.caller.call("tenant_backup_undo_pending", { p_org: tenantId });
  }

  /** Completes a backup_logs row added as "running". */
  finishLog(
    id: number,
    args: {
      status: "completed" | "failed";
      records: number;
      error: string | null;
      details: Record<string, unknown>;
    },
  ): Promise<boolean> {
    return this.caller.call("tenant_backup_log_finish", {
      p_id: id,
      p_status: args.status,
      p_records: args.records,
      p_error: args.error,
      p_details: args.details,
    });
  }
}

/** A tenant_backup_schedules row; frequency null: the tenant follows the default schedule. */
export interface ScheduleRow {
  organization_id: string;
  frequency: Frequency | null;
  time_of_day: string | null;
  day_of_week: number | null;
  enabled: boolean;
  next_run_at: string | null;
  last_run_at: string | null;
  last_backup_id: string | null;
  updated_at: string;
}

export interface ScheduleListRow extends ScheduleRow {
  last_records: number | null;
  last_bytes: number | null;
}

export interface SnapshotTaken {
  taken_at: string;
  /** Rows copied, by table (every table of the plan). */
  rows: Record<string, number>;
}

export type TenantKey = { valid: true; id: string } | { valid: false; type: string; message: string };

/** Per table, what a restore has staged: its pages, their rows and the highest page number. */
export type StageProgress = Record<string, { pages: number; rows: number; last_page: number }>;

export interface ApplyTableSpec {
  name: string;
  row_count: number;
  /** The backup's stored columns, in the order of each row's values. */
  columns: { name: string; type: string }[];
  /**
   * The backup's own entry for the table, when an undo point may name it for a table the apply leaves as
   * it was (a chunked backup of the same tenant, whose chunks are shared).
   */
  reuse?: { files: ManifestFile[] };
}

/** A table of a captured undo point kept as the restored backup's entry (tenant_backup_undo_reused). */
export interface ReusedUndoTable {
  capture_id: string;
  table: string;
  rows: number;
  entry: { files: ManifestFile[] };
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

export interface ApplyReport {
  success: boolean;
  dry_run: boolean;
  /**
   * replica: app and foreign-key triggers off, keys checked set-based; triggers: ordinary statements;
   * none: no rows were restored (files only).
   */
  mode: "replica" | "triggers" | "none";
  tables: Record<string, ApplyTableReport>;
  warnings: string[];
  /** Milliseconds per step inside the database. */
  timings_ms: Record<string, number>;
  error: RestoreError | null;
}

export type ApplyMode = "auto" | "replica" | "triggers";

/** A row of the app's profile table, as tenant_backup_user_roles reads it. */
export interface UserRoleRow {
  role: string | null;
  organization_id: string | null;
}

export type RateLimitTake =
  | { allowed: true; taken_at: string; previous_at: string | null }
  | { allowed: false; retry_after_seconds: number; last_at: string };

/** A backup's newest drill, and when one last passed. */
export interface Verification {
  backup_id: string;
  status: "passed" | "failed";
  verified_at: string;
  error_message: string | null;
  last_passed_at: string | null;
}

export interface NewestBackup {
  organization_id: string;
  backup_id: string;
  backup_type: string;
  backup_date: string;
  completed_at: string;
  records_count: number | null;
  file_size: number | null;
}
