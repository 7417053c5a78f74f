/**
 * A backup of one tenant, now (type "manual"). A tenant too large for one call's time budget continues
 * on the next call: an unfinished manual run of today is resumed rather than started again.
 */
import type { CreatedBy } from "../auth/principal.ts";
import { AppError, errorMessage, fail } from "../errors.ts";
import type { Services } from "../services.ts";
import { utcDay } from "../time.ts";
import { backupTenant, type TenantBackupResult } from "./tenant-backup.ts";

export async function runManualBackup(
  services: Services,
  tenantId: string,
  options: { deadline: number; createdBy?: CreatedBy; note?: string | null; ignoreValidation?: boolean },
): Promise<TenantBackupResult & { date: string; tenantName: string | null }> {
  const tenant = await services.db.getTenant(tenantId);
  if (!tenant) throw fail("not_found", `no organization ${tenantId}`, { field: "organization_id" });
  const date = utcDay(services.now());
  const runs = await services.db.runsOn(date, "manual");
  const unfinished = runs.filter((r) => r.organization_id === tenantId && r.status === "running").at(-1);
  const about = { id: tenantId, name: tenant.name };
  let result: TenantBackupResult;
  try {
    result = await backupTenant(services, {
      tenantId,
      tenantName: tenant.name,
      type: "manual",
      date,
      deadline: options.deadline,
      resumeBackupId: unfinished?.backup_id,
      createdBy: options.createdBy,
      note: options.note,
      ignoreValidation: options.ignoreValidation,
    });
  } catch (err) {
    // A busy tenant is not a failed backup: another call is backing it up.
    if (!(err instanceof AppError && err.code === "conflict")) {
      await services.alerts.backupFailed(about, { error: errorMessage(err), type: "manual" });
    }
    throw err;
  }
  if (result.status === "completed") {
    await services.alerts.backupSucceeded(about, { backup_id: result.backupId, type: "manual" });
  }
  return { ...result, date, tenantName: tenant.name };
}
