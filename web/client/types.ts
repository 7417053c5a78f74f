/**
 * The types of the browser client. The API's answers are the server's own declarations
 * (lib/api-answers.ts, types only, nothing Node-specific), so the page and the functions cannot drift.
 */
import type { BackupType } from "../../lib/api-answers.ts";

export type * from "../../lib/api-answers.ts";

/*
 * The two request shapes are declared here instead: the server's are zod schemas in functions/, whose
 * modules reach the server's services (Node types, database drivers) that the page's type-check and
 * bundle must not read, and whose coerced query numbers have no input type to share. The client's tests
 * send these through the real handlers, so a field the server renames or refuses fails there.
 */

/** list-backups' query. */
export interface ListBackupsQuery {
  organization_id: string;
  type?: BackupType;
  limit?: number;
  before?: string;
  history_limit?: number;
  history_before?: number;
}

/** restore-tenant-data's body. */
export interface RestoreRequest {
  organization_id: string;
  backup_date: string;
  dry_run: boolean;
  tables?: string[];
  backup_id?: string;
  allow_dropped_columns?: boolean;
  /** Why: kept with the restore's history row and its undo point (up to 500 characters). */
  note?: string;
  /** The tenant's uploaded files: with the rows (true), alone ("only"), or left alone (false). */
  files?: boolean | "only";
}

/** download-backup: a signed link (Supabase Storage) or the file itself (local storage). */
export type Download =
  | { kind: "link"; url: string; file: string; expires_at: string }
  | { kind: "file"; blob: Blob; filename: string; sha256: string | null };
