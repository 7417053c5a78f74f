/**
 * The daily run: every tenant without a completed daily backup for today's UTC day gets one. Tenants are
 * independent (one failing does not stop the others); a time budget stops the run starting new work, and
 * the next call continues, resuming a tenant's unfinished run where it stopped.
 */
import type { Catalog } from "../catalog.ts";
import type { BackupRun, Tenant } from "../db/tenant-db.ts";
import { AppError, errorMessage } from "../errors.ts";
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
      status: "busy" | "failed" | "not_started";
      error?: string;
    };

export interface DailyResult {
  backup_date: string;
  /** true when every tenant has a completed backup for the day. */
  complete: boolean;
  total_tenants: number;
  successful_tenants: number;
  failed_tenants: number;
  /** Tenants still to do: cut by the time budget, busy, or not reached. */
  remaining_tenants: number;
  total_records: number;
  total_size: number;
  tenants: TenantOutcome[];
}

export async function runDailyBackup(
  services: Services,
  options: { deadline: number },
): Promise<DailyResult> {
  const { db, log } = services;
  const date = utcDay(services.now());
  const expired = await db.expireRuns(date);
  if (expired > 0) log.warn({ expired }, "closed interrupted backup runs of earlier days as failed");
  const [tenants, runs] = await Promise.all([db.listTenants(), db.runsOn(date, "daily")]);
  const completed = new Map<string, BackupRun>();
  const unfinished = new Map<string, BackupRun>();
  for (const run of runs) {
    if (run.status === "completed") completed.set(run.organization_id, run);
    // The newest running run of a tenant is the one to continue (runs come oldest first).
    if (run.status === "running") unfinished.set(run.organization_id, run);
  }

  let catalog: Catalog | undefined;
  let started = 0;
  const outcomes: TenantOutcome[] = [];
  for (const tenant of tenants) {
    const done = completed.get(tenant.id);
    if (done) {
      outcomes.push({
        ...named(tenant),
        status: "already_done",
        backup_id: done.backup_id,
        records: Number(done.records_count ?? 0),
        bytes: Number(done.file_size ?? 0),
      });
      continue;
    }
    // The first tenant always starts, so that every call makes progress.
    if (started > 0 && services.now().getTime() >= options.deadline) {
      outcomes.push({ ...named(tenant), status: "not_started" });
      continue;
    }
    started += 1;
    outcomes.push(
      await backupOne(services, tenant, date, options.deadline, unfinished.get(tenant.id), async () => {
        catalog ??= await db.catalog();
        return catalog;
      }),
    );
  }

  const result = summarize(date, outcomes);
  log.info(
    {
      backup_date: date,
      total: result.total_tenants,
      ok: result.successful_tenants,
      failed: result.failed_tenants,
      remaining: result.remaining_tenants,
    },
    "daily tenant backup run",
  );
  return result;
}

async function backupOne(
  services: Services,
  tenant: Tenant,
  date: string,
  deadline: number,
  unfinished: BackupRun | undefined,
  catalog: () => Promise<Catalog>,
): Promise<TenantOutcome> {
  if (!TENANT_ID_PATTERN.test(tenant.id)) {
    return { ...named(tenant), status: "failed", error: "organization id cannot be used as a storage path" };
  }
  try {
    const result = await backupTenant(services, {
      tenantId: tenant.id,
      tenantName: tenant.name,
      type: "daily",
      date,
      deadline,
      resumeBackupId: unfinished?.backup_id,
      catalog: await catalog(),
    });
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
  }
}

function named(tenant: Tenant) {
  return { organization_id: tenant.id, organization_name: tenant.name };
}

function summarize(date: string, outcomes: TenantOutcome[]): DailyResult {
  const ok = outcomes.filter((o) => o.status === "completed" || o.status === "already_done");
  const failed = outcomes.filter((o) => o.status === "failed");
  const sum = (key: "records" | "bytes") => ok.reduce((n, o) => n + ("records" in o ? Number(o[key]) : 0), 0);
  return {
    backup_date: date,
    complete: ok.length === outcomes.length,
    total_tenants: outcomes.length,
    successful_tenants: ok.length,
    failed_tenants: failed.length,
    remaining_tenants: outcomes.length - ok.length - failed.length,
    total_records: sum("records"),
    total_size: sum("bytes"),
    tenants: outcomes,
  };
}
