/**
 * POST /.netlify/functions/restore-tenant-data
 *   { organization_id, backup_date: "YYYY-MM-DD", dry_run = true, tables?, backup_id?, allow_dropped_columns?, note?,
 *     files?: true | false | "only", source = "primary" }
 * Restores one tenant from a backup, or (dry_run, the default) rehearses it and reports what would change.
 * files (default: true when the backup holds files): the tenant's uploaded files too, after the rows;
 * "only": the files alone.
 * `source: "offsite"` reads the backup from the off-site copy (OFFSITE_S3_*) instead of the primary storage,
 * which it does not touch: for when the primary is gone. The restore's undo point is then stored off-site.
 * 200 report; 202 the backup's rows are still being staged, or the undo point of a large tenant is still
 * being written (call again with the same body to continue); 404 no such backup; 409 tenant busy, or the
 * restore would break rows of tables not being restored; 422 backup damaged or incompatible, too large
 * to apply in one call through the Supabase API, or the restore hit an error (nothing was changed); 503
 * the apply was cancelled by the database's statement timeout (nothing was changed).
 */
import { z } from "zod";
import type { FilesRestoreReport, RestoreReport } from "../lib/api-answers.ts";
import { createdByOf } from "../lib/auth/principal.ts";
import type { ApplyReport } from "../lib/db/tenant-db.ts";
import { AppError } from "../lib/errors.ts";
import { requireOffsite } from "../lib/offsite/copy.ts";
import { restoreTenant } from "../lib/restore/restore-tenant.ts";
import { isCalendarDay } from "../lib/time.ts";
import { note } from "./backup-schemas.ts";
import { endpoint } from "./endpoint.ts";
import { json } from "./http.ts";
import { organizationId } from "./organization-id.ts";

const tableName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_$]{0,62}$/, "must be a table name");

const bodySchema = z
  .object({
    organization_id: organizationId,
    backup_date: z.string().refine(isCalendarDay, "must be a calendar day written YYYY-MM-DD"),
    dry_run: z.boolean().default(true),
    tables: z
      .array(tableName)
      .min(1, "must name at least one table, or be left out to restore all")
      .max(500)
      .refine((names) => new Set(names).size === names.length, "must not name a table twice")
      .optional(),
    backup_id: z
      .string()
      .regex(/^[0-9]{8}T[0-9]{6,9}Z-[0-9a-f]{4}$/, "must be a backup id as list-backups gives it")
      .optional(),
    allow_dropped_columns: z.boolean().default(false),
    note: note.optional(),
    files: z.union([z.boolean(), z.literal("only")]).optional(),
    source: z.enum(["primary", "offsite"], { message: 'must be "primary" or "offsite"' }).default("primary"),
  })
  .strict();

/** A restore that ran and failed: its error carries the report, and the rate-limit slot stays spent. */
class RestoreFailed extends AppError {}

export const handleRestoreTenantData = endpoint({
  name: "restore-tenant-data",
  methods: ["POST"],
  from: "body",
  input: bodySchema,
  access: "organization",
  rateLimit: {
    // Dry runs change nothing but read the whole tenant and stage its backup in the database every tenant
    // shares: they have their own, shorter limit (DRY_RUN_MIN_INTERVAL_SECONDS).
    kind: ({ input }) => (input.dry_run ? "dry_run" : "restore"),
    // A call that only staged rows or wrote part of the undo backup (202) restored nothing yet: the call
    // that applies the restore is the one that counts.
    refundAnswer: (response) => response.status === 202,
    // Refused before anything was done (no such backup, tenant busy, bad table list): no cost to retry.
    refund: (err) =>
      !(err instanceof RestoreFailed) &&
      ["not_found", "conflict", "bad_request", "unprocessable"].includes(err.code),
  },
  async run({ input: body, services, deadline, principal }) {
    const from =
      body.source === "offsite" ? { ...services, storage: requireOffsite(services, "source") } : services;
    const outcome = await restoreTenant(from, {
      requestedBy: principal.kind === "cron" ? "cron" : (principal.email ?? principal.userId),
      createdBy: createdByOf(principal),
      note: body.note,
      tenantId: body.organization_id,
      backupDate: body.backup_date,
      backupId: body.backup_id,
      dryRun: body.dry_run,
      tables: body.tables,
      allowDroppedColumns: body.allow_dropped_columns,
      files: body.files,
      offsite: body.source === "offsite",
      deadline,
    });
    if (outcome.status === "staging") {
      return json(202, {
        success: true,
        message: `staged ${outcome.stagedRecords} of ${outcome.totalRecords} rows of the backup; call again to continue`,
        staged_records: outcome.stagedRecords,
        total_records: outcome.totalRecords,
      });
    }
    const { manifest, report } = outcome;
    const body200: RestoreReport = {
      success: report.success,
      message: message(report, outcome.files),
      summary: {
        organization_id: body.organization_id,
        organization_name: manifest.organization_name,
        backup_date: manifest.backup_date,
        backup_id: manifest.backup_id,
        backup_type: manifest.backup_type,
        source: body.source,
        dry_run: report.dry_run,
        mode: report.mode,
        total_tables: Object.keys(report.tables).length,
        total_records_restored: report.dry_run || !report.success ? 0 : sum(report, (t) => t.rows_in_backup),
        total_records_in_backup: sum(report, (t) => t.rows_in_backup),
        errors: report.error ? [report.error] : [],
        warnings: outcome.warnings,
        undo_backup_id: outcome.undoBackupId,
        timings_ms: report.timings_ms,
        validation: outcome.validation,
      },
      tables: Object.fromEntries(
        Object.entries(report.tables).map(([name, t]) => [
          name,
          {
            success: report.success || (report.error?.table !== undefined && report.error.table !== name),
            record_count: t.rows_in_backup,
            restored: report.dry_run || !report.success ? 0 : t.rows_in_backup,
            rows_now: t.rows_now,
            would_insert: t.would_insert,
            would_delete: t.would_delete,
            would_change: t.would_change,
          },
        ]),
      ),
      files: outcome.files,
    };
    if (report.success || report.dry_run) return json(200, body200);
    // Files alone: some changes may be made; the storage gave way, and a call again finishes the job.
    if (report.mode === "none") {
      throw new RestoreFailed(
        "unavailable",
        `restoring the files stopped: ${outcome.files?.error}; call again with files: "only" to finish`,
        { report: body200 },
      );
    }
    // A real restore that failed changed nothing; say why with the status that fits: 409 when rows of
    // tables left out would break, 503 when the database gave way (deadlock, cancel, connection), else 422.
    const state = report.error?.sqlstate ?? "";
    const code =
      state === "TB005" ? "conflict" : /^(40|53|57|08)/.test(state) ? "unavailable" : "unprocessable";
    throw new RestoreFailed(code, `restore failed, nothing was changed: ${report.error?.message}`, {
      error: report.error,
      report: body200,
    });
  },
});

function sum(report: ApplyReport, pick: (t: ApplyReport["tables"][string]) => number): number {
  return Object.values(report.tables).reduce((n, t) => n + pick(t), 0);
}

function message(report: ApplyReport, files: FilesRestoreReport | null): string {
  if (report.dry_run) {
    return report.success
      ? "dry run: the restore would succeed; nothing was changed"
      : `dry run: the restore would fail: ${report.error?.message}; nothing was changed`;
  }
  if (!report.success) return `restore failed: ${report.error?.message}`;
  if (files && !files.success) {
    return `rows restored; restoring the files stopped: ${files.error}; call again with files: "only" to finish`;
  }
  return "restore completed";
}
