/**
 * The watch on the backups: the conditions worth an alert besides a failed backup, each raised once per
 * tenant until it clears (then its "resolved"). Where each is evaluated:
 *
 * - at the end of every cron call (daily-tenant-backup and its background run), over that call's outcome:
 *   run.incomplete (a tenant whose latest slot started more than ALERT_RUN_DEADLINE_HOURS ago and is still
 *   not backed up for it), backup.size_changed (a backup this call completed, against the median of the
 *   tenant's recent ones) and, when the call stored or deleted backups, storage.quota (the whole bucket
 *   past STORAGE_WARN_RATIO);
 * - on every backup-health call, which uptime monitors poll: tenant.stale (health's schedule-aware
 *   staleness), which also tells of a cron that is no longer called at all; and storage.quota when the
 *   report is about every tenant. The cron call itself does not raise tenant.stale: a tenant it leaves
 *   stale is told as backup.failed or run.incomplete already;
 * - verify.failed by the drill itself (lib/verify/drill.ts).
 *
 * With no channel configured nothing here runs. Nothing here throws: the alert calls log their failures.
 */
import type { HealthReport, StorageUsage } from "../api-answers.ts";
import type { DailyResult, TenantOutcome } from "../backup/daily.ts";
import { latestSlotStart } from "../schedule/slots.ts";
import { effectiveSchedule } from "../schedule/tenant-schedule.ts";
import type { Services } from "../services.ts";
import { storageUsage } from "../usage.ts";
import {
  runCompleted,
  runIncomplete,
  type SizeDetails,
  sizeChanged,
  sizeSettled,
  storageBelowQuota,
  storageQuota,
  tenantFresh,
  tenantStale,
} from "./watch-events.ts";

/** How many earlier backups the size of a new one is compared with, and the fewest that make a median. */
const SIZE_HISTORY = 7;
const SIZE_HISTORY_MIN = 3;

/**
 * run.incomplete, backup.size_changed and storage.quota after a cron call (`changedStorage`: it completed
 * a backup or retention deleted some). Logs, never throws: the run's answer stands whatever happens here.
 */
export async function watchRun(
  services: Services,
  result: DailyResult,
  changedStorage: boolean,
): Promise<void> {
  if (!services.alerts.enabled) return;
  try {
    await watchOutcomes(services, result);
    if (changedStorage) await watchQuota(services, await storageUsage(services));
  } catch (err) {
    services.log.error({ err }, "the watch after the cron call failed");
  }
}

async function watchOutcomes(services: Services, result: DailyResult): Promise<void> {
  const outcomes = [...(result.previous_day?.tenants ?? []), ...result.tenants];
  const schedules = new Map((await services.db.listSchedules()).map((row) => [row.organization_id, row]));
  const now = services.now();
  const deadlineMs = services.config.watch.runDeadlineHours * 3_600_000;
  await Promise.all(
    outcomes.map(async (outcome) => {
      const tenant = { id: outcome.organization_id, name: outcome.organization_name };
      if (outcome.status === "completed" || outcome.status === "already_done") {
        await services.alerts.resolve(
          "run.incomplete",
          runCompleted(tenant, now, { backup_id: outcome.backup_id }),
        );
        if (outcome.status === "completed") await watchSize(services, outcome);
        return;
      }
      // A failed backup has its own alert (backup.failed); an unscheduled tenant is never due.
      if (outcome.status !== "incomplete" && outcome.status !== "busy" && outcome.status !== "not_started")
        return;
      const schedule = effectiveSchedule(schedules.get(tenant.id) ?? null, services.config.schedule.default);
      const slot = latestSlotStart(schedule, now);
      if (!slot || now.getTime() - slot.getTime() <= deadlineMs) return;
      await services.alerts.raise(
        runIncomplete(tenant, now, {
          slot_started_at: slot.toISOString(),
          deadline: new Date(slot.getTime() + deadlineMs).toISOString(),
          status: outcome.status,
        }),
      );
    }),
  );
}

async function watchSize(services: Services, outcome: Extract<TenantOutcome, { status: "completed" }>) {
  const ratio = services.config.watch.sizeChangeRatio;
  if (ratio === 0) return;
  const sizes = (await services.db.recentSizes(outcome.organization_id, outcome.backup_id, SIZE_HISTORY)).map(
    Number,
  );
  if (sizes.length < SIZE_HISTORY_MIN) return;
  const median = medianOf(sizes);
  if (median === 0) return;
  const tenant = { id: outcome.organization_id, name: outcome.organization_name };
  const details: SizeDetails = {
    backup_id: outcome.backup_id,
    bytes: outcome.bytes,
    median_bytes: median,
    change: Math.round((outcome.bytes / median - 1) * 10_000) / 10_000,
    threshold: ratio,
    compared_with: sizes.length,
  };
  const now = services.now();
  if (Math.abs(details.change) > ratio) await services.alerts.raise(sizeChanged(tenant, now, details));
  else await services.alerts.resolve("backup.size_changed", sizeSettled(tenant, now, details));
}

/** tenant.stale from a health report, and storage.quota when it is about every tenant. Never throws. */
export async function watchHealth(
  services: Services,
  report: HealthReport,
  scope: { allTenants: boolean },
): Promise<void> {
  if (!services.alerts.enabled) return;
  try {
    const now = services.now();
    await Promise.all(
      report.tenants.map((row) => {
        const tenant = { id: row.organization_id, name: row.organization_name };
        const details = {
          status: row.status === "missing" ? ("missing" as const) : ("stale" as const),
          age_hours: row.age_hours,
          max_age_hours: row.max_age_hours,
          backup_id: row.backup_id,
        };
        return row.status === "stale" || row.status === "missing"
          ? services.alerts.raise(tenantStale(tenant, now, details))
          : services.alerts.resolve("tenant.stale", tenantFresh(tenant, now, details));
      }),
    );
    if (scope.allTenants) await watchQuota(services, report.usage);
  } catch (err) {
    services.log.error({ err }, "the watch on the health report failed");
  }
}

async function watchQuota(services: Services, usage: StorageUsage): Promise<void> {
  const { total_bytes, quota_bytes, used_ratio, warn_ratio } = usage;
  const quota = { total_bytes, quota_bytes, used_ratio, warn_ratio };
  const now = services.now();
  if (used_ratio >= warn_ratio) await services.alerts.raise(storageQuota(now, quota));
  else await services.alerts.resolve("storage.quota", storageBelowQuota(now, quota));
}

function medianOf(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}
