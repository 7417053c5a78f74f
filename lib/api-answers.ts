/**
 * The JSON answers of the backup API (docs/api.md), declared once for the server that writes them and
 * the browser client that reads them (web/client). The engine returns these shapes and functions/ check
 * the bodies they build against them with `satisfies`, so a renamed field fails the type-check on both
 * sides. Types only, and importing only types from modules with no Node dependency: the admin page's
 * type-check (web/tsconfig.json, no Node types) reads this file, and its bundle gets nothing from it.
 */
import type { CreatedBy } from "./auth/principal.ts";
import type { BackupType, Manifest } from "./backup/manifest.ts";
import type { Schedule } from "./schedule/slots.ts";

export type { CreatedBy } from "./auth/principal.ts";
export type { BackupType, Manifest, ManifestFile, ManifestTable } from "./backup/manifest.ts";
export type { Frequency as ScheduleFrequency, Schedule as ScheduleSettings } from "./schedule/slots.ts";

/** A backup as list-backups shows it: what its manifest says, and whether its files are all there. */
export interface BackupListing {
  backup_id: string;
  backup_date: string;
  backup_type: BackupType;
  status: "completed";
  summary_path: string;
  organization_name: string | null;
  completed_at: string;
  tables: number;
  total_records: number;
  total_size: number;
  /** The table files or chunks it names, each once (small tables may share one chunk). */
  files: number;
  /** The tenant's uploaded files the backup holds (TENANT_FILE_BUCKETS); 0 without them. */
  tenant_files: number;
  /**
   * Every file the manifest names (the copies of the tenant's files included) is in storage with the recorded size. Only sizes are compared (a
   * listing reads no file): checksums are checked when a file is read, by a restore or a download.
   */
  files_present: boolean;
  schema_fingerprint: string;
  /** Who started it: "cron" or the user id and e-mail; null for backups made before this was kept. */
  created_by: CreatedBy | null;
  /** The note given when it was started. */
  note: string | null;
  /** When a verification drill (verify-backups) of it last passed; null when none has. */
  verified_at: string | null;
  /** Its newest drill, passed or failed; null when it was never drilled. */
  verification: { status: "passed" | "failed"; at: string; error: string | null } | null;
  /** What the validation rules found before the backup was taken; null when none ran. */
  validation: ValidationSummary | null;
}

/** A backup whose summary cannot be read: listed so that it can be seen and deleted. */
export interface DamagedListing {
  backup_id: string;
  backup_date: string;
  backup_type: null;
  status: "damaged";
  summary_path: string;
  files_present: false;
  error: string;
}

export type BackupEntry = BackupListing | DamagedListing;

/** A backup_logs row to add; keys are the table's column names. */
export interface LogEntry {
  organization_id?: string | null;
  backup_type: string;
  status: string;
  backup_date?: string | null;
  backup_id?: string | null;
  dry_run?: boolean;
  records_count?: number | null;
  file_size?: number | null;
  tables_count?: number | null;
  duration_ms?: number | null;
  error_message?: string | null;
  details?: Record<string, unknown>;
  started_at?: string;
  completed_at?: string | null;
  /** Who started the operation; null on rows written before this was kept. */
  created_by?: CreatedBy | null;
  note?: string | null;
}

/** A backup_logs row as stored, and as list-backups shows it in `history`. */
export interface LogRow extends LogEntry {
  id: number;
  created_at: string;
}

/** list-backups: a page of backups and a page of history, each with where the next page starts. */
export interface BackupList {
  success: true;
  organization_id: string;
  organization_name: string | null;
  backups: BackupEntry[];
  backups_next_before: string | null;
  history: LogRow[];
  history_next_before: number | null;
  schedule: BackupSchedule;
}

/**
 * A tenant's schedule as backup-schedule (and list-backups) show it: the settings it follows, and when the
 * cron call backs it up next and did last.
 */
export interface BackupSchedule extends Schedule {
  organization_id: string;
  /** When the cron will next back the tenant up (a past time while due: the next call does); null for none. */
  next_run_at: string | null;
  /** When the last scheduled backup completed; null before the first. */
  last_run_at: string | null;
  /** true when the tenant has no schedule of its own and follows the default (DEFAULT_SCHEDULE_*). */
  is_default: boolean;
}

/** backup-schedule, GET and PUT. */
export interface BackupScheduleAnswer {
  success: true;
  schedule: BackupSchedule;
}

/** An object a backup names that is not in storage at its recorded size: "missing" or what is stored. */
export interface StoredProblem {
  path: string;
  problem: string;
}

/** backup-details: one backup's listing, its whole manifest, and the objects not stored as recorded. */
export interface BackupDetails {
  success: true;
  organization_id: string;
  backup: BackupListing;
  file_problems: StoredProblem[];
  manifest: Manifest;
}

/** backup-tenant-data's 202: the backup is under way; call again to go on. */
export interface BackupUnderWay {
  success: true;
  message: string;
  backup: { backup_id: string; backup_date: string; backup_type: "manual"; complete: false };
}

/** backup-tenant-data's 200: the backup is complete. */
export interface BackupAnswer {
  success: true;
  message: string;
  backup: {
    backup_id: string;
    backup_date: string;
    backup_type: "manual";
    complete: true;
    organization_id: string;
    organization_name: string | null;
    summary_path: string;
    total_records: number;
    total_size: number;
    /** Rows per table. */
    tables: Record<string, number>;
  };
}

/** Why a restore (or its dry run) failed, as PostgreSQL said it. */
export interface RestoreError {
  sqlstate: string;
  message: string;
  detail?: string;
  hint?: string;
  table?: string;
  constraint?: string;
}

/** One table of a restore; the would_* counts are null where the restore did not reach that statement. */
export interface RestoreTableReport {
  success: boolean;
  record_count: number;
  restored: number;
  rows_now: number;
  would_insert: number | null;
  would_delete: number | null;
  /** null for a table without a primary key: it is replaced whole. */
  would_change: number | null;
}

export interface FileChange {
  bucket: string;
  path: string;
  action: "add" | "replace" | "remove";
  /** Bytes of the backup's copy (add, replace) or of the file now in the bucket (remove). */
  bytes: number;
}

/** What restore-tenant-data answers about the tenant's files (TENANT_FILE_BUCKETS). */
export interface FilesRestoreReport {
  dry_run: boolean;
  success: boolean;
  /** Every change the plan holds: made, unless `error` says the step stopped part way. */
  changes: FileChange[];
  added: number;
  replaced: number;
  removed: number;
  unchanged: number;
  /**
   * Why the step stopped: some changes may not be made. Restoring the files again (files: "only") makes
   * those that are left.
   */
  error: string | null;
  warnings: string[];
}

/** restore-tenant-data's report: 200 for a dry run or a restore that succeeded; a failed one sends it as error details. */
export interface RestoreReport {
  success: boolean;
  message: string;
  summary: {
    organization_id: string;
    organization_name: string | null;
    backup_date: string;
    backup_id: string;
    backup_type: BackupType;
    /** Where the backup was read: the primary storage or the off-site copy. */
    source: "primary" | "offsite";
    dry_run: boolean;
    /** none: a restore of the tenant's files alone. */
    mode: "replica" | "triggers" | "none";
    total_tables: number;
    total_records_restored: number;
    total_records_in_backup: number;
    errors: RestoreError[];
    warnings: string[];
    undo_backup_id: string | null;
    timings_ms: Record<string, number>;
    /** A dry run only: what the backup's rows would break, checked against the rules; null otherwise. */
    validation: ValidationReport | null;
  };
  tables: Record<string, RestoreTableReport>;
  /** The files step: null when the restore left files alone. */
  files: FilesRestoreReport | null;
}

/** delete-backup: what was deleted; `files` counts the table files, `bytes` includes the summary. */
export interface DeleteAnswer {
  success: true;
  message: string;
  deleted: { organization_id: string; backup_id: string; backup_date: string; files: number; bytes: number };
}

/** download-backup with Supabase Storage: a signed link to the file (local storage sends the file itself). */
export interface DownloadLink {
  success: true;
  organization_id: string;
  backup_id: string;
  backup_date: string;
  file: string;
  path: string;
  bytes: number | null;
  sha256: string | null;
  url: string;
  expires_in: number;
  expires_at: string;
}

export interface TenantHealth {
  organization_id: string;
  organization_name: string | null;
  /** unscheduled: its schedule is off or disabled, so no backup is expected. */
  status: "ok" | "stale" | "missing" | "unscheduled";
  /** The age this tenant's schedule allows; null when it is unscheduled. */
  max_age_hours: number | null;
  backup_id: string | null;
  backup_type: string | null;
  backup_date: string | null;
  completed_at: string | null;
  age_hours: number | null;
}

/** Storage used by backups (backup-usage, and backup-health's `usage`). */
export interface StorageUsage {
  /** Bytes stored, of every tenant listed (with organization_id: of that one). */
  total_bytes: number;
  /** STORAGE_QUOTA_BYTES. */
  quota_bytes: number;
  /** total_bytes / quota_bytes, to 4 decimals. */
  used_ratio: number;
  /** STORAGE_WARN_RATIO: past it, storage.quota is alerted. */
  warn_ratio: number;
  /** Largest first. */
  tenants: { organization_id: string; bytes: number; backups: number }[];
}

/** backup-usage. */
export interface UsageAnswer {
  success: true;
  usage: StorageUsage;
}

/** backup-health answers 200 (all fresh) or 503 (some stale) with this report in the body either way. */
export interface HealthReport {
  healthy: boolean;
  checked_at: string;
  /** The age a daily schedule allows (HEALTH_MAX_AGE_HOURS); each tenant says what its own allows. */
  max_age_hours: number;
  total_tenants: number;
  ok_tenants: number;
  stale_tenants: number;
  missing_tenants: number;
  unscheduled_tenants: number;
  tenants: TenantHealth[];
  /** Storage used by backups of the tenants reported on (all of them, or the one asked about). */
  usage: StorageUsage;
}

/** page-config: what the page needs to sign users in with Supabase Auth. */
export interface PageConfig {
  success: true;
  supabase_url: string | null;
  supabase_anon_key: string | null;
}

/** list-modules: each module of the catalog with the organization's record count. */
export interface ModuleList {
  success: true;
  organization_id: string;
  modules: { name: string; tables: { name: string; records: number }[]; records: number }[];
}

/** module-template (JSON): the header row a CSV of the table must have, and what each column takes. */
export interface ModuleTemplateAnswer {
  success: true;
  module: string;
  table: string;
  header: string;
  columns: {
    name: string;
    type: string;
    required: boolean;
    primary_key: boolean;
    tenant_key: boolean;
    has_default: boolean;
    references: string | null;
    allowed_values: string[] | null;
    checks: string[];
    example: string;
  }[];
}

/** import-module: what the import would do or did, row by row (line: the CSV's physical line). */
export interface ImportReport {
  success: boolean;
  organization_id: string;
  module: string;
  table: string;
  dry_run: boolean;
  mode: "upsert" | "insert";
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
  undo_backup_id: string | null;
}

/** module-upload-url: where to PUT a CSV file too large for a request body, and its key for import-module. */
export interface ImportUpload {
  success: true;
  organization_id: string;
  upload: string;
  url: string;
  max_bytes: number;
}

export type ValidationRuleKind =
  | "required"
  | "format"
  | "range"
  | "date_order"
  | "not_in_past"
  | "not_in_future"
  | "references"
  | "unique_in_tenant"
  | "one_of";

/** A validation rule (validation-rules): schema-level, the same for every tenant. */
export interface ValidationRule {
  id: string;
  table: string;
  column: string;
  kind: ValidationRuleKind;
  params: Record<string, unknown>;
  enabled: boolean;
}

/** A rule the schema suggests (validation-rules GET `proposed`); POST it as it is to accept it. */
export interface ProposedRule {
  table: string;
  column: string;
  kind: ValidationRuleKind;
  params: Record<string, unknown>;
  /** Why it is proposed. */
  reason: string;
}

/** validation-rules GET. */
export interface ValidationRulesAnswer {
  success: true;
  rules: ValidationRule[];
  proposed: ProposedRule[];
}

/** validation-rules POST (201) and DELETE. */
export interface ValidationRuleAnswer {
  success: true;
  rule: ValidationRule;
}

/** One rule checked against one tenant's rows. */
export interface ValidationResult {
  rule_id: string;
  table: string;
  column: string;
  kind: ValidationRuleKind;
  params: Record<string, unknown>;
  /** Rows that break the rule; null when the rule could not be checked (see `error`). */
  violations: number | null;
  /** The primary keys of the first offending rows, in key order ({"row": text} for a table without one). */
  sample_keys: Record<string, string>[];
  /** What is wrong and how to fix it. */
  message: string;
  /** Why the rule could not be checked (its column was dropped, the check timed out). */
  error?: string;
}

export interface ValidationSummary {
  /** Enabled rules. */
  rules: number;
  /** Rules with at least one offending row. */
  failed: number;
  /** Offending rows, over all rules. */
  violations: number;
  /** Rules that could not be checked. */
  errors: number;
  checked_at: string;
}

export interface ValidationReport {
  summary: ValidationSummary;
  results: ValidationResult[];
}

/** validate-tenant-data, as JSON. */
export interface ValidationAnswer extends ValidationReport {
  success: true;
  organization_id: string;
}
