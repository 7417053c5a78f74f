/**
 * POST /.netlify/functions/backup-tenant-data {organization_id, note?, ignore_validation?} — a manual backup
 * of one tenant, now; `note` (up to 500 characters) is kept with it, as is who asked (the manifest's and
 * history's created_by). The validation rules run first and their summary is kept with the backup; with
 * VALIDATION_BLOCKS_BACKUP on, rows that break a rule refuse the backup (422) unless ignore_validation is true.
 * Cron secret, a super admin, or an admin of that organization.
 * 200 with the backup; 202 when the tenant is larger than one call's time budget (call again to go on);
 * 404 no such tenant; 409 the tenant is busy; 429 a manual backup of this tenant started less than
 * MANUAL_BACKUP_MIN_INTERVAL_SECONDS ago (users only: the cron secret is not limited).
 */
import { z } from "zod";
import type { BackupAnswer, BackupUnderWay } from "../lib/api-answers.ts";
import { createdByOf } from "../lib/auth/principal.ts";
import { runManualBackup } from "../lib/backup/manual.ts";
import { utcDay } from "../lib/time.ts";
import { note } from "./backup-schemas.ts";
import { endpoint } from "./endpoint.ts";
import { json } from "./http.ts";
import { organizationId } from "./organization-id.ts";

export const handleBackupTenantData = endpoint({
  name: "backup-tenant-data",
  methods: ["POST"],
  from: "body",
  input: z
    .object({
      organization_id: organizationId,
      note: note.optional(),
      ignore_validation: z.boolean({ error: "must be true or false" }).default(false),
    })
    .strict(),
  access: "organization",
  rateLimit: {
    kind: "manual_backup",
    // Calls that continue today's unfinished manual run (the 202 answer said "call again") are the same
    // backup, not a new one: only starting a backup counts against the limit.
    skip: async ({ input, services }) =>
      (await services.db.runsOn(utcDay(services.now()), "manual")).some(
        (run) => run.organization_id === input.organization_id && run.status === "running",
      ),
    // No backup was started (no such tenant, tenant busy, refused by the validation rules): the caller may
    // try again without waiting.
    refund: (err) => err.code === "not_found" || err.code === "conflict" || err.code === "unprocessable",
  },
  async run({ input: body, services, deadline, principal }) {
    const result = await runManualBackup(services, body.organization_id, {
      deadline,
      createdBy: createdByOf(principal),
      note: body.note,
      ignoreValidation: body.ignore_validation,
    });
    if (result.status === "incomplete") {
      return json(202, {
        success: true,
        message: `backup ${result.backupId} is under way (${result.tablesDone} of ${result.tables} tables); call again to continue`,
        backup: {
          backup_id: result.backupId,
          backup_date: result.date,
          backup_type: "manual",
          complete: false,
        },
      } satisfies BackupUnderWay);
    }
    return json(200, {
      success: true,
      message: `backed up ${result.records} records of ${result.tables} tables`,
      backup: {
        backup_id: result.backupId,
        backup_date: result.date,
        backup_type: "manual",
        complete: true,
        organization_id: body.organization_id,
        organization_name: result.tenantName,
        summary_path: result.summaryPath,
        total_records: result.records,
        total_size: result.bytes,
        tables: Object.fromEntries(result.manifest.tables.map((t) => [t.name, t.row_count])),
      },
    } satisfies BackupAnswer);
  },
});
