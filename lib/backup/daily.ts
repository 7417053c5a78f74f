/**
 * The scheduled run (daily-tenant-backup): every tenant that is due gets a backup — its latest schedule
 * slot (lib/schedule/slots.ts) has started and no scheduled backup completed since it began. Called every
 * hour, each tenant is backed up at its own time; called once a day, every tenant due that day is; called
 * twice in one slot, nothing is backed up twice. Tenants whose schedule is off or disabled are never
 * backed up here. Tenants are independent (one failing does not stop the others); a time budget stops the
 * run starting new work, and the next call continues, resuming a tenant's unfinished run where it stopped.
 */
import type { Catalog } from "../catalog.ts";
import type { BackupRun, ScheduleListRow, Tenant } from "../db/tenant-db.ts";
import { AppError, errorMessage } from "../errors.ts";
import { type Lease, takeLease } from "../lease.ts";
import { isDue, nextSlotStart, periodDays, type Schedule } from "../schedule/slots.ts";
import { effectiveSchedule, lastRunAt } from "../schedule/tenant-schedule.ts";
import type { Services } from "../services.ts";
import { utcDay } from "../time.ts";
import { TENANT_ID_PATTERN } from "./paths.ts";
import { backupTenant } from "./tenant-backup.ts";

export type TenantOutcome =
  | {
      organization_id: string;
      organization_name: string | null;
      status: "completed";
      backup_id: string;
      records: number;
      bytes: number;
      tables: number;
    }
  | {
      organization_id: string;
      organization_name: string | null;
      status: "already_done";
      backup_id: string;
      records: number;
      bytes: number;
    }
  | {
      organization_id: string;
      organization_name: string | null;
      status: "incomplete";
      backup_id: string;
      records: number;
      bytes: number;
      tables_done: number;
      tables: number;
    }
  | {
      organization_id: string;
      organization_name: string | null;
      /** Its schedule is off or disabled: the cron never backs it up. */
      status: "not_scheduled";
    }
  | {
      organization_id: string;
      organization_name: string | null;
      status: "busy" | "failed" | "not_started";
      error?: string;
    };

export interface DailyResult {
  backup_date: string;
  /** true when every scheduled tenant has a completed backup for its latest slot. */
  complete: boolean;
  total_tenants: number;
  /** Backed up for their latest slot, by this call or an earlier one. */
  successful_tenants: number;
  failed_tenants: number;
  /** Schedule off or disabled. */
  not_scheduled_tenants: number;
  /** Tenants still to do: cut by the time budget, busy, or not reached. */
  remaining_tenants: number;
  total_records: number;
  total_size: number;
  tenants: TenantOutcome[];
  /** Runs of the day before, cut off before midnight and finished by this call as that day's backups. */
  previous_day?: { backup_date: string; tenants: TenantOutcome[] };
}

export async function runDailyBackup(
  services: Services,
  options: { deadline: number },
): Promise<DailyResult> {
  const { db, log } = services;
  const now = services.now();
  const date = utcDay(now);
  const yesterday = utcDay(new Date(now.getTime() - 86_400_000));
  // Yesterday's unfinished runs are finished below, as yesterday's backups; older ones are given up.
  const expired = await db.expireRuns(yesterday);
  if (expired > 0) log.warn({ expired }, "closed interrupted backup runs of earlier days as failed");
  const [tenants, runs, lateRuns, schedules] = await Promise.all([
    db.listTenants(),
    db.runsOn(date, "daily"),
    db.runsOn(yesterday, "daily"),
    db.listSchedules(),
  ]);
  const scheduleRows = new Map(schedules.map((row) => [row.organization_id, row]));
  const unfinished = new Map<string, BackupRun>();
  for (const run of runs) {
    // The newest running run of a tenant is the one to continue (runs come oldest first).
    if (run.status === "running") unfinished.set(run.organization_id, run);
  }

  let catalog: Catalog | undefined;
  let started = 0;
  // A run cut off before midnight (time budget, kill) is finished first, under its own day, so that a
  // day whose run started has its backup whatever the clock says when it ends.
  const late = lateRuns.filter((r) => r.status === "running");
  const lateOutcomes: TenantOutcome[] = [];
  for (const tenant of tenants) {
    const run = late.filter((r) => r.organization_id === tenant.id).at(-1);
    if (!run) continue;
    if (started > 0 && services.now().getTime() >= options.deadline) {
      lateOutcomes.push({ ...named(tenant), status: "not_started" });
      continue;
    }
    started += 1;
    lateOutcomes.push(
      await finishLateRun(services, tenant, run, options.deadline, async () => {
        catalog ??= await db.catalog();
        return catalog;
      }),
    );
  }
  const outcomes: TenantOutcome[] = [];
  for (const tenant of tenants) {
    const row = scheduleRows.get(tenant.id) ?? null;
    const schedule = effectiveSchedule(row, services.config.schedule.default);
    if (!isDue(schedule, lastRunAt(row), now)) {
      outcomes.push(notDue(tenant, schedule, row));
      continue;
    }
    // The first tenant always starts, so that every call makes progress.
    if (started > 0 && services.now().getTime() >= options.deadline) {
      outcomes.push({ ...named(tenant), status: "not_started" });
      continue;
    }
    started += 1;
    outcomes.push(
      await backupOne(
        services,
        tenant,
        { date, deadline: options.deadline, unfinished: unfinished.get(tenant.id) },
        async () => {
          catalog ??= await db.catalog();
          return catalog;
        },
      ),
    );
  }

  const result = summarize(date, outcomes);
  if (lateOutcomes.length > 0) {
    const previous = summarize(yesterday, lateOutcomes);
    result.previous_day = { backup_date: yesterday, tenants: lateOutcomes };
    result.complete &&= previous.complete;
    result.failed_tenants += previous.failed_tenants;
    result.remaining_tenants += previous.remaining_tenants;
  }
  log.info(
    {
      backup_date: date,
      total: result.total_tenants,
      ok: result.successful_tenants,
      failed: result.failed_tenants,
      remaining: result.remaining_tenants,
      not_scheduled: result.not_scheduled_tenants,
    },
    "scheduled tenant backup run",
  );
  await alertOutcomes(services, [...lateOutcomes, ...outcomes]);
  return result;
}

/**
 * Tells of this call's failures and of successes after a failure, once the work is done, so that alerts
 * never take a tenant's time budget. Delivered side by side: together they take one alert's bounded time.
 */
async function alertOutcomes(services: Services, outcomes: TenantOutcome[]): Promise<void> {
  await Promise.all(
    outcomes.map((outcome) => {
      const tenant = { id: outcome.organization_id, name: outcome.organization_name };
      if (outcome.status === "completed") {
        return services.alerts.backupSucceeded(tenant, { backup_id: outcome.backup_id, type: "daily" });
      }
      if (outcome.status === "failed") {
        return services.alerts.backupFailed(tenant, {
          error: outcome.error ?? "unknown error",
          type: "daily",
        });
      }
      return undefined;
    }),
  );
}

/**
 * A tenant that is not due: backed up for its latest slot already (the backup that covers it), or never
 * backed up by the cron (schedule off or disabled).
 */
function notDue(tenant: Tenant, schedule: Schedule, row: ScheduleListRow | null): TenantOutcome {
  // A schedule with slots is not due only once a scheduled backup covers its latest slot: row is set then.
  if (periodDays(schedule) === null || !row?.last_backup_id)
    return { ...named(tenant), status: "not_scheduled" };
  return {
    ...named(tenant),
    status: "already_done",
    backup_id: row.last_backup_id,
    records: Number(row.last_records ?? 0),
    bytes: Number(row.last_bytes ?? 0),
  };
}

async function backupOne(
  services: Services,
  tenant: Tenant,
  run: { date: string; deadline: number; unfinished: BackupRun | undefined },
  catalog: () => Promise<Catalog>,
): Promise<TenantOutcome> {
  const { date, deadline, unfinished } = run;
  if (!TENANT_ID_PATTERN.test(tenant.id)) {
    return { ...named(tenant), status: "failed", error: "organization id cannot be used as a storage path" };
  }
  let lease: Lease | undefined;
  try {
    lease = await takeLease(services, tenant.id, "backup:daily");
    // Decided again under the lease: a call made at the same time may have backed the tenant up since this
    // one read the schedules, and the slot must not be backed up twice.
    const row = await services.db.getSchedule(tenant.id);
    const schedule = effectiveSchedule(row, services.config.schedule.default);
    if (!isDue(schedule, lastRunAt(row), services.now())) {
      const last = row?.last_backup_id ? await services.db.getRun(row.last_backup_id) : null;
      return notDue(
        tenant,
        schedule,
        row && { ...row, last_records: last?.records_count ?? null, last_bytes: last?.file_size ?? null },
      );
    }
    const result = await backupTenant(services, {
      tenantId: tenant.id,
      tenantName: tenant.name,
      type: "daily",
      date,
      deadline,
      resumeBackupId: unfinished?.backup_id,
      catalog: await catalog(),
      lease,
      createdBy: "cron",
    });
    if (result.status === "completed") {
      // What makes the next call in this slot skip the tenant.
      const at = services.now();
      await services.db.scheduleRan(tenant.id, at, result.backupId, nextSlotStart(schedule, at));
    }
    const outcome = {
      ...named(tenant),
      backup_id: result.backupId,
      records: result.records,
      bytes: result.bytes,
      tables: result.tables,
    };
    return result.status === "completed"
      ? { ...outcome, status: "completed" }
      : { ...outcome, status: "incomplete", tables_done: result.tablesDone };
  } catch (err) {
    if (err instanceof AppError && err.code === "conflict") {
      return { ...named(tenant), status: "busy", error: err.message };
    }
    services.log.error({ err, tenant: tenant.id }, "tenant backup failed");
    return { ...named(tenant), status: "failed", error: errorMessage(err) };
  } finally {
    await lease?.release();
  }
}

/**
 * Continues a run of yesterday under its own date. It covers the schedule slot it started in: the
 * schedule records it at its start, so the slot that began since (if any) is still due.
 */
async function finishLateRun(
  services: Services,
  tenant: Tenant,
  run: BackupRun,
  deadline: number,
  catalog: () => Promise<Catalog>,
): Promise<TenantOutcome> {
  let lease: Lease | undefined;
  try {
    lease = await takeLease(services, tenant.id, "backup:daily");
    // Under the lease: a concurrent call may have finished it.
    const current = await services.db.getRun(run.backup_id);
    if (current?.status !== "running") {
      return current?.status === "completed"
        ? {
            ...named(tenant),
            status: "already_done",
            backup_id: current.backup_id,
            records: Number(current.records_count ?? 0),
            bytes: Number(current.file_size ?? 0),
          }
        : { ...named(tenant), status: "failed", error: current?.error_message ?? "run not found" };
    }
    const result = await backupTenant(services, {
      tenantId: tenant.id,
      tenantName: tenant.name,
      type: "daily",
      date: run.backup_date,
      deadline,
      resumeBackupId: run.backup_id,
      catalog: await catalog(),
      lease,
      createdBy: "cron",
    });
    if (result.status === "completed") {
      const row = await services.db.getSchedule(tenant.id);
      const schedule = effectiveSchedule(row, services.config.schedule.default);
      const startedAt = new Date(run.started_at);
      if (!row?.last_run_at || new Date(row.last_run_at) < startedAt) {
        await services.db.scheduleRan(
          tenant.id,
          startedAt,
          result.backupId,
          nextSlotStart(schedule, startedAt),
        );
      }
    }
    const outcome = {
      ...named(tenant),
      backup_id: result.backupId,
      records: result.records,
      bytes: result.bytes,
    };
    return result.status === "completed"
      ? { ...outcome, status: "completed", tables: result.tables }
      : { ...outcome, status: "incomplete", tables_done: result.tablesDone, tables: result.tables };
  } catch (err) {
    if (err instanceof AppError && err.code === "conflict") {
      return { ...named(tenant), status: "busy", error: err.message };
    }
    services.log.error({ err, tenant: tenant.id }, "finishing yesterday's backup failed");
    return { ...named(tenant), status: "failed", error: errorMessage(err) };
  } finally {
    await lease?.release();
  }
}

function named(tenant: Tenant) {
  return { organization_id: tenant.id, organization_name: tenant.name };
}

function summarize(date: string, outcomes: TenantOutcome[]): DailyResult {
  const ok = outcomes.filter((o) => o.status === "completed" || o.status === "already_done");
  const failed = outcomes.filter((o) => o.status === "failed");
  const notScheduled = outcomes.filter((o) => o.status === "not_scheduled");
  const sum = (key: "records" | "bytes") => ok.reduce((n, o) => n + ("records" in o ? Number(o[key]) : 0), 0);
  const remaining = outcomes.length - ok.length - failed.length - notScheduled.length;
  return {
    backup_date: date,
    complete: remaining === 0 && failed.length === 0,
    total_tenants: outcomes.length,
    successful_tenants: ok.length,
    failed_tenants: failed.length,
    not_scheduled_tenants: notScheduled.length,
    remaining_tenants: remaining,
    total_records: sum("records"),
    total_size: sum("bytes"),
    tenants: outcomes,
  };
}
