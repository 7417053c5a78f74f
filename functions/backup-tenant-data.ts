/**
 * POST /.netlify/functions/backup-tenant-data {organization_id} — a manual backup of one tenant, now.
 * 200 with the backup; 202 when the tenant is larger than one call's time budget (call again to go on);
 * 404 no such tenant; 409 the tenant is busy.
 */
import { z } from "zod";
import { runManualBackup } from "../lib/backup/manual.ts";
import type { Services } from "../lib/services.ts";
import { authenticate } from "./auth.ts";
import { json, readJsonBody, requireMethod, validate } from "./http.ts";
import { organizationId } from "./schemas.ts";

const bodySchema = z.object({ organization_id: organizationId }).strict();

export async function handleBackupTenantData(request: Request, services: Services): Promise<Response> {
  requireMethod(request, "POST");
  authenticate(request, services.config.cronSecret);
  const body = validate(bodySchema, await readJsonBody(request));

  const result = await runManualBackup(services, body.organization_id, {
    deadline: Date.now() + services.config.backup.timeBudgetMs,
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
    });
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
  });
}
