/**
 * The answers of the backup API as the browser sees them (docs/api.md). Declared here, next to the
 * client, rather than imported from the server: the page's bundle must not pull in Node-only modules,
 * and the server's input schemas and answer shapes are free to move as long as these fields stay. The
 * client's tests call the real handlers, so a renamed field shows up there.
 */

export type BackupType = "daily" | "manual" | "pre_restore";

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
  files: number;
  /** Every file the manifest names is in storage at its recorded size. */
  verified: boolean;
  /** Present once backups carry notes. */
  note?: string | null;
}

export interface DamagedListing {
  backup_id: string;
  backup_date: string;
  backup_type: null;
  status: "damaged";
  summary_path: string;
  verified: false;
  error: string;
}

export type BackupEntry = BackupListing | DamagedListing;

/** A backup_logs row. */
export interface HistoryRow {
  id: number;
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
  created_at: string;
}

export interface BackupList {
  success: true;
  organization_id: string;
  organization_name: string | null;
  backups: BackupEntry[];
  backups_next_before: string | null;
  history: HistoryRow[];
  history_next_before: number | null;
}

export interface ListBackupsQuery {
  organization_id: string;
  type?: BackupType;
  limit?: number;
  before?: string;
  history_limit?: number;
  history_before?: number;
}

export interface ManifestFile {
  path: string;
  rows: number;
  bytes: number;
  sha256: string;
}

export interface ManifestTable {
  name: string;
  order: number;
  row_count: number;
  bytes: number;
  columns: { name: string; type: string }[];
  files: ManifestFile[];
}

export interface BackupDetails {
  success: true;
  organization_id: string;
  backup: BackupListing;
  file_problems: { path: string; problem: string }[];
  manifest: {
    backup_id: string;
    backup_type: BackupType;
    backup_date: string;
    organization_name: string | null;
    started_at: string;
    completed_at: string;
    schema_fingerprint: string;
    tables: ManifestTable[];
    total_records: number;
    total_bytes: number;
    warnings: string[];
  };
}

/** backup-tenant-data's answer: 200 complete, 202 under way (call again). */
export interface BackupAnswer {
  success: true;
  message: string;
  backup: {
    backup_id: string;
    backup_date: string;
    backup_type: "manual";
    complete: boolean;
    total_records?: number;
    total_size?: number;
  };
}

export interface RestoreRequest {
  organization_id: string;
  backup_date: string;
  dry_run: boolean;
  tables?: string[];
  backup_id?: string;
  allow_dropped_columns?: boolean;
}

export interface RestoreError {
  sqlstate: string;
  message: string;
  detail?: string;
  hint?: string;
  table?: string;
  constraint?: string;
}

export interface RestoreTableReport {
  success: boolean;
  record_count: number;
  restored: number;
  rows_now: number;
  would_insert: number;
  would_delete: number;
  would_change: number;
}

export interface RestoreReport {
  success: boolean;
  message: string;
  summary: {
    organization_id: string;
    organization_name: string | null;
    backup_date: string;
    backup_id: string;
    backup_type: BackupType;
    dry_run: boolean;
    mode: "replica" | "triggers";
    total_tables: number;
    total_records_restored: number;
    total_records_in_backup: number;
    errors: RestoreError[];
    warnings: string[];
    undo_backup_id: string | null;
    timings_ms: Record<string, number>;
  };
  tables: Record<string, RestoreTableReport>;
}

export interface DeleteAnswer {
  success: true;
  message: string;
  deleted: { organization_id: string; backup_id: string; backup_date: string; files: number };
}

export interface TenantHealth {
  organization_id: string;
  organization_name: string | null;
  status: "ok" | "stale" | "missing";
  backup_id: string | null;
  backup_type: string | null;
  backup_date: string | null;
  completed_at: string | null;
  age_hours: number | null;
}

/** backup-health answers 200 (all fresh) or 503 (some stale) with the same body; both are a report. */
export interface HealthReport {
  healthy: boolean;
  checked_at: string;
  max_age_hours: number;
  total_tenants: number;
  ok_tenants: number;
  stale_tenants: number;
  missing_tenants: number;
  tenants: TenantHealth[];
}

/** download-backup: a signed link (Supabase Storage) or the file itself (local storage). */
export type Download =
  | { kind: "link"; url: string; file: string; expires_at: string }
  | { kind: "file"; blob: Blob; filename: string; sha256: string | null };

export interface PageConfig {
  supabase_url: string | null;
  supabase_anon_key: string | null;
}
