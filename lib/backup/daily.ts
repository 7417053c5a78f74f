/**
 * The scheduled run (daily-tenant-backup): every tenant that is due gets a backup — its latest schedule
 * slot (lib/schedule/slots.ts) has started and no scheduled backup completed since it began. Called every
 * hour, each tenant is backed up at its own time; called once a day, every tenant due that day is; called
 * twice in one slot, nothing is backed up twice. Tenants whose schedule is off or disabled are never
 * backed up here. Tenants are independent (one failing does not stop the others); a time budget stops the
 * run starting new work, and the next call continues, resuming a tenant's unfinished run where it stopped.
 * A call backs up several tenants side by side (BACKUP_TENANT_CONCURRENCY), and calls made at the same
 * time share the due tenants through work items claimed with SKIP LOCKED, so that each is done once.
 */

import { randomUUID } from "node:crypto";
import type { Catalog } from "../catalog.ts";
import type { BackupRun, ScheduleListRow, ScheduleRow, Tenant, WorkItem } from "../db/tenant-db.ts";
import { AppError, errorMessage } from "../errors.ts";
import { heldLease, type Lease, takeLease, tenantBusy } from "../lease.ts";
import { isDue, latestSlotStart, nextSlotStart, periodDays, type Schedule } from "../schedule/slots.ts";
import { effectiveSchedule, lastRunAt } from "../schedule/tenant-schedule.ts";
import type { Services } from "../services.ts";
import { utcDay } from "../time.ts";
import { enabledRules } from "../validation/check.ts";
import type { StoredRule } from "../validation/rules.ts";
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

  // Read once for every tenant, by whichever needs them first; read again after a failure. A change made
  // while the call runs (a rule, a table) counts from the next call.
  const shared: SharedReads = {
    catalog: readOnce(() => db.catalog()),
    rules: readOnce(() => enabledRules(services)),
  };
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
    lateOutcomes.push(await finishLateRun(services, tenant, run, options.deadline, shared));
  }
  const outcomes = await dueTenants(services, {
    tenants,
    scheduleRows,
    date,
    deadline: options.deadline,
    unfinished,
    started: started > 0,
    shared,
  });

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

/** What every tenant's backup in a call uses: read once per call (see runDailyBackup). */
interface SharedReads {
  catalog: () => Promise<Catalog>;
  rules: () => Promise<StoredRule[]>;
}

/** `read`'s answer, asked for once and shared by every caller; asked for again after a failure. */
function readOnce<T>(read: () => Promise<T>): () => Promise<T> {
  let answer: Promise<T> | undefined;
  return () =>
    (answer ??= read().catch((err) => {
      answer = undefined;
      throw err;
    }));
}

/** How long a finished item's slot is remembered: past any slot a late call could still be working on. */
const FORGET_WORK_AFTER_MS = 8 * 86_400_000;

/**
 * The tenants of this slot: each due one becomes a work item (lib/db: tenant_backup_work_*), and this call
 * claims items a few at a time and backs them up in a pool of BACKUP_TENANT_CONCURRENCY, each under its
 * own lease. Calls made side by side share the items: each backs up what it claimed. No new tenant starts
 * once the time budget is spent (but the call's first, so that every call makes progress); claimed items
 * not started are given back. Answers an outcome for every tenant, in the tenants' order.
 */
async function dueTenants(
  services: Services,
  run: {
    tenants: Tenant[];
    scheduleRows: Map<string, ScheduleListRow>;
    date: string;
    deadline: number;
    unfinished: Map<string, BackupRun>;
    /** A tenant was already started by this call (yesterday's run finished). */
    started: boolean;
    shared: SharedReads;
  },
): Promise<TenantOutcome[]> {
  const { db, config, log } = services;
  const now = services.now();
  const byId = new Map(run.tenants.map((t) => [t.id, t]));
  const outcomes = new Map<string, TenantOutcome>();
  const due: WorkItem[] = [];
  for (const tenant of run.tenants) {
    const row = run.scheduleRows.get(tenant.id) ?? null;
    const schedule = effectiveSchedule(row, config.schedule.default);
    const slot = latestSlotStart(schedule, now);
    if (slot && isDue(schedule, lastRunAt(row), now)) {
      due.push({ organization_id: tenant.id, slot_start: slot.toISOString() });
    } else outcomes.set(tenant.id, notDue(tenant, schedule, row));
  }
  const added =
    due.length > 0 ? await db.addWork(due, new Date(now.getTime() - FORGET_WORK_AFTER_MS)) : { done: [] };
  // Done by a call that finished after this one read the schedules: its fresh row tells.
  for (const id of added.done) {
    const tenant = byId.get(id) as Tenant;
    const { covered } = await freshSchedule(services, tenant, await services.db.getSchedule(id));
    if (covered) outcomes.set(id, covered);
  }

  const holder = randomUUID();
  // As long as a lease: a call killed meanwhile gives its items up as soon as it gives up its tenants. A
  // claim that runs out while its call still works only lets another call try (the lease decides).
  const claimTtl = config.backup.lockTtlSeconds;
  const pool = config.backup.tenantConcurrency;
  const claimed: WorkItem[] = [];
  let drained = due.length === 0;
  let claiming: Promise<void> | null = null;
  const nextItem = async (): Promise<WorkItem | undefined> => {
    while (claimed.length === 0 && !drained) {
      claiming ??= db
        .claimWork(holder, pool, claimTtl)
        .then((items) => {
          claimed.push(...items);
          if (items.length === 0) drained = true;
        })
        .finally(() => {
          claiming = null;
        });
      await claiming;
    }
    return claimed.shift();
  };
  const finish = (item: WorkItem, state: "done" | "retry" | "due") =>
    db
      .finishWork(holder, item, state)
      .catch((err) =>
        log.warn({ err, tenant: item.organization_id }, "could not end the claim on a work item"),
      );

  let started = run.started ? 1 : 0;
  let stopped = false;
  const worker = async () => {
    for (;;) {
      // The first tenant always starts, so that every call makes progress.
      if (started > 0 && services.now().getTime() >= run.deadline) {
        stopped = true;
        return;
      }
      started += 1;
      const item = await nextItem();
      if (!item) return;
      const tenant = byId.get(item.organization_id) ?? { id: item.organization_id, name: null };
      const { outcome, lease } = await backupOne(
        services,
        tenant,
        { date: run.date, deadline: run.deadline, unfinished: run.unfinished.get(tenant.id) },
        run.shared,
      );
      outcomes.set(tenant.id, outcome);
      // Sent together: while the item is claimed no other call takes it, so neither waits on the other.
      await Promise.all([lease?.release(), finish(item, workState(outcome))]);
    }
  };
  await Promise.all(Array.from({ length: pool }, worker));
  // Claimed but not started: any call may take them now.
  await Promise.all(claimed.splice(0).map((item) => finish(item, "due")));

  const left = due.filter((item) => !outcomes.has(item.organization_id));
  // Not taken by this call: another call backed them up meanwhile (now not due), holds them, or the budget
  // stopped this call first.
  const fresh =
    left.length > 0 ? new Map((await db.listSchedules()).map((r) => [r.organization_id, r])) : null;
  for (const item of left) {
    const tenant = byId.get(item.organization_id) as Tenant;
    const row = fresh?.get(tenant.id) ?? null;
    const schedule = effectiveSchedule(row, config.schedule.default);
    if (!isDue(schedule, lastRunAt(row), services.now()))
      outcomes.set(tenant.id, notDue(tenant, schedule, row));
    else if (stopped) outcomes.set(tenant.id, { ...named(tenant), status: "not_started" });
    else {
      outcomes.set(tenant.id, {
        ...named(tenant),
        status: "busy",
        error: "another call of the scheduled run is backing it up",
      });
    }
  }
  return run.tenants.map((t) => outcomes.get(t.id) as TenantOutcome);
}

/**
 * The tenant's schedule from its row just read afresh, and its outcome when that says it is not due (any
 * more): a call made at the same time may have backed it up since this one read the schedules.
 */
async function freshSchedule(
  services: Services,
  tenant: Tenant,
  row: ScheduleRow | null,
): Promise<{ schedule: Schedule; covered: TenantOutcome | null }> {
  const schedule = effectiveSchedule(row, services.config.schedule.default);
  if (isDue(schedule, lastRunAt(row), services.now())) return { schedule, covered: null };
  const last = row?.last_backup_id ? await services.db.getRun(row.last_backup_id) : null;
  const covered = notDue(
    tenant,
    schedule,
    row && { ...row, last_records: last?.records_count ?? null, last_bytes: last?.file_size ?? null },
  );
  return { schedule, covered };
}

/** What becomes of a tenant's work item after this call's attempt. */
function workState(outcome: TenantOutcome): "done" | "retry" | "due" {
  switch (outcome.status) {
    case "completed":
    case "already_done":
    case "not_scheduled":
      return "done";
    case "incomplete":
    case "not_started":
      return "due";
    default:
      return "retry";
  }
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

/** Backs the tenant up under its lease; answers the lease (when taken) held, for the caller to release. */
async function backupOne(
  services: Services,
  tenant: Tenant,
  run: { date: string; deadline: number; unfinished: BackupRun | undefined },
  shared: SharedReads,
): Promise<{ outcome: TenantOutcome; lease?: Lease }> {
  const { date, deadline, unfinished } = run;
  if (!TENANT_ID_PATTERN.test(tenant.id)) {
    const error = "organization id cannot be used as a storage path";
    return { outcome: { ...named(tenant), status: "failed", error } };
  }
  let lease: Lease | undefined;
  try {
    // Decided again under the lease, so that the slot is never backed up twice: the schedule is read in
    // the call that takes the lease, after taking it.
    const holder = randomUUID();
    const taken = await services.db.acquireLockReadingSchedule(
      tenant.id,
      "backup:daily",
      holder,
      services.config.backup.lockTtlSeconds,
    );
    if (!taken.acquired) throw tenantBusy(tenant.id, taken);
    lease = heldLease(services, tenant.id, holder);
    const { schedule, covered } = await freshSchedule(services, tenant, taken.schedule);
    if (covered) return { outcome: covered, lease };
    const result = await backupTenant(services, {
      tenantId: tenant.id,
      tenantName: tenant.name,
      type: "daily",
      date,
      deadline,
      resumeBackupId: unfinished?.backup_id,
      catalog: await shared.catalog(),
      rules: await shared.rules(),
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
    return {
      outcome:
        result.status === "completed"
          ? { ...outcome, status: "completed" }
          : { ...outcome, status: "incomplete", tables_done: result.tablesDone },
      lease,
    };
  } catch (err) {
    if (err instanceof AppError && err.code === "conflict") {
      return { outcome: { ...named(tenant), status: "busy", error: err.message }, lease };
    }
    services.log.error({ err, tenant: tenant.id }, "tenant backup failed");
    return { outcome: { ...named(tenant), status: "failed", error: errorMessage(err) }, lease };
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
  shared: SharedReads,
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
      catalog: await shared.catalog(),
      rules: await shared.rules(),
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
