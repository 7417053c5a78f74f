/**
 * POST /.netlify/functions/daily-tenant-backup — cron secret only (a signed-in user gets 403). Backs up
 * every tenant that is due by its schedule (lib/backup/daily.ts): call it every hour and each tenant is
 * backed up at its own time. 200 when every scheduled tenant is backed up for its latest slot; 202 when the
 * time budget cut the run and a next call will continue; 500 when a tenant failed (the others are still
 * backed up).
 *
 * Once no scheduled tenant is left to do, the retention pass runs (RETENTION_DAYS and friends) for every
 * tenant but those whose backup failed: they keep their backups, and only the files of their failed runs
 * are cleared. Its outcome is in `retention`; it does
 * not change the status, which is about the backups. A pass cut short continues on the next call.
 *
 * Then the watch (lib/alerts/watch.ts) tells of a tenant still not backed up past its slot's deadline
 * (run.incomplete), of a backup whose size jumped (backup.size_changed) and of storage past its warning
 * (storage.quota).
 */
import { z } from "zod";
import { watchRun } from "../lib/alerts/watch.ts";
import { runDailyBackup } from "../lib/backup/daily.ts";
import { errorMessage } from "../lib/errors.ts";
import { applyRetention, type RetentionResult } from "../lib/retention/apply.ts";
import type { Services } from "../lib/services.ts";
import { endpoint } from "./endpoint.ts";
import { json } from "./http.ts";

export const handleDailyTenantBackup = endpoint({
  name: "daily-tenant-backup",
  methods: ["POST"],
  from: "body",
  input: z.object({}).strict(),
  access: "cron",
  async run({ services, deadline }) {
    const { status, body } = await dailyRun(services, deadline);
    return json(status, body);
  },
});

/** The daily run and its answer, shared with the background function (daily-background.ts). */
export async function dailyRun(services: Services, deadline: number) {
  const result = await runDailyBackup(services, { deadline });
  // Once no tenant is left to do: tenants that failed keep their backups (only their failed runs' files
  // go), and do not hold back retention for the others.
  const failed = new Set(result.tenants.filter((t) => t.status === "failed").map((t) => t.organization_id));
  const retention: RetentionReport =
    result.remaining_tenants === 0
      ? await retentionAfterRun(services, deadline, failed)
      : { applied: false, reason: "the daily run is not complete; retention runs once it is" };
  const stored = [...result.tenants, ...(result.previous_day?.tenants ?? [])].some(
    (t) => t.status === "completed",
  );
  const deleted = retention.applied && retention.deleted_backups + retention.deleted_orphans > 0;
  await watchRun(services, result, stored || deleted);
  const status = result.failed_tenants > 0 ? 500 : result.complete ? 200 : 202;
  const message =
    result.failed_tenants > 0
      ? `${result.failed_tenants} of ${result.total_tenants} tenants failed; the others are backed up`
      : result.complete
        ? `all ${result.successful_tenants} scheduled tenants have a completed backup for their latest slot` +
          (result.not_scheduled_tenants > 0
            ? `; ${result.not_scheduled_tenants} have scheduled backups off`
            : "")
        : `${result.remaining_tenants} tenants remain; call again to continue`;
  return {
    status,
    body: {
      success: result.failed_tenants === 0,
      message,
      summary: {
        backup_date: result.backup_date,
        complete: result.complete,
        total_tenants: result.total_tenants,
        successful_tenants: result.successful_tenants,
        failed_tenants: result.failed_tenants,
        not_scheduled_tenants: result.not_scheduled_tenants,
        remaining_tenants: result.remaining_tenants,
        total_records: result.total_records,
        total_size: result.total_size,
      },
      tenants: result.tenants,
      ...(result.previous_day ? { previous_day: result.previous_day } : {}),
      retention,
    },
  };
}

/** Retention may use what is left of the budget, and at least a few seconds even when nothing is. */
const RETENTION_MIN_MS = 5_000;

type RetentionReport =
  | ({ applied: true } & RetentionResult)
  | { applied: false; reason?: string; error?: string };

async function retentionAfterRun(
  services: Services,
  deadline: number,
  failed: ReadonlySet<string>,
): Promise<RetentionReport> {
  try {
    const { tenants, ...summary } = await applyRetention(services, {
      dryRun: false,
      orphansOnly: failed,
      deadline: Math.max(deadline, services.now().getTime() + RETENTION_MIN_MS),
      actor: "daily",
    });
    // Per tenant only what was done or went wrong: the full plan is apply-retention's answer.
    const notable = tenants.filter(
      (t) => t.status !== "done" || t.expired.length > 0 || t.orphans.length > 0,
    );
    return { applied: true, ...summary, tenants: notable };
  } catch (err) {
    services.log.error({ err }, "retention after the daily run failed");
    return { applied: false, error: errorMessage(err) };
  }
}
