/**
 * POST /.netlify/functions/daily-tenant-backup — cron secret only. Backs up every tenant that has no
 * completed daily backup today. 200 when all tenants are done; 202 when the time budget cut the run and a
 * next call will continue; 500 when a tenant failed (the others are still backed up).
 */
import { z } from "zod";
import { runDailyBackup } from "../lib/backup/daily.ts";
import type { Services } from "../lib/services.ts";
import { authenticate } from "./auth.ts";
import { json, readJsonBody, requireMethod, validate } from "./http.ts";

const bodySchema = z.object({}).strict();

export async function handleDailyTenantBackup(request: Request, services: Services): Promise<Response> {
  requireMethod(request, "POST");
  authenticate(request, services.config.cronSecret);
  validate(bodySchema, await readJsonBody(request));

  const deadline = Date.now() + services.config.backup.timeBudgetMs;
  const result = await runDailyBackup(services, { deadline });
  const status = result.failed_tenants > 0 ? 500 : result.complete ? 200 : 202;
  const message =
    result.failed_tenants > 0
      ? `${result.failed_tenants} of ${result.total_tenants} tenants failed; the others are backed up`
      : result.complete
        ? `all ${result.total_tenants} tenants have a completed backup for ${result.backup_date}`
        : `${result.remaining_tenants} tenants remain; call again to continue`;
  return json(status, {
    success: result.failed_tenants === 0,
    message,
    summary: {
      backup_date: result.backup_date,
      complete: result.complete,
      total_tenants: result.total_tenants,
      successful_tenants: result.successful_tenants,
      failed_tenants: result.failed_tenants,
      remaining_tenants: result.remaining_tenants,
      total_records: result.total_records,
      total_size: result.total_size,
    },
    tenants: result.tenants,
  });
}
