/**
 * The retention pass: per tenant, deletes the backups the policy no longer keeps (lib/retention/policy.ts)
 * and the files of runs that never got a summary (orphans) once they are over a day old.
 *
 * Safety:
 * - a tenant is worked on only while we hold its lease (the one backups and restores take), so nothing
 *   is deleted under a running restore or backup; a tenant whose lease is held is skipped as "busy";
 * - the tenant's newest backup is always kept;
 * - an orphan is deleted only when, under the lease, it still has no summary and its run is not
 *   'running' in tenant_backup_runs (a run cut by the time budget continues later from those files);
 *   the files of a run closed as failed go at once, other orphans once a day old;
 * - every deletion is logged in backup_logs (backup_type 'retention'). A dry run deletes and logs nothing;
 * - then the tenant's chunks that no remaining backup (nor a run still going) names are swept
 *   (lib/chunks/sweep.ts); a dry run counts those the kept backups would leave unnamed.
 */
import { deleteBackup } from "../backup/delete.ts";
import {
  inventoriesOfAll,
  objectAt,
  type RunFolder,
  startedAtOf,
  type TenantInventory,
  tenantInventory,
} from "../backup/inventory.ts";
import { summaryPath } from "../backup/paths.ts";
import { type ChunkSweep, sweepChunks } from "../chunks/sweep.ts";
import type { BackupRun } from "../db/tenant-db.ts";
import { errorMessage } from "../errors.ts";
import { type Lease, tryLease } from "../lease.ts";
import type { Services } from "../services.ts";
import { logTiming, utcDay } from "../time.ts";
import { planRetention, type RetentionPolicy } from "./policy.ts";

/** Files of a run without a summary are left alone this long: the run may still be going. */
export const ORPHAN_MIN_AGE_MS = 24 * 60 * 60 * 1000;

export interface RetentionOptions {
  /** One tenant; absent: every tenant with anything in storage. */
  tenantId?: string;
  dryRun: boolean;
  /** Epoch ms after which no new tenant is started (the first one always is). */
  deadline: number;
  /** Who asked, for the log ("cron", "daily", "user:<id>"). */
  actor: string;
  /**
   * Tenants whose backups are left alone this pass (their daily backup failed today): only the files of
   * their failed runs are cleared. The others are not held back by them.
   */
  orphansOnly?: ReadonlySet<string>;
}

export interface ExpiredBackup {
  backup_id: string;
  backup_date: string;
  reason: string;
  deleted: boolean;
}

export interface OrphanRun {
  backup_id: string;
  backup_date: string;
  files: number;
  bytes: number;
  deleted: boolean;
}

export interface TenantRetention {
  organization_id: string;
  status: "done" | "busy" | "failed" | "not_started";
  kept: number;
  expired: ExpiredBackup[];
  orphans: OrphanRun[];
  /** Orphan candidates left alone, and why (run still 'running', summary appeared). */
  skipped: { backup_id: string; reason: string }[];
  /** The chunk sweep after the deletions; absent when the pass did not get that far. */
  chunks?: ChunkSweep;
  error?: string;
}

export interface RetentionResult {
  dry_run: boolean;
  /** true when every tenant was worked on (none busy, failed or cut by the time budget). */
  complete: boolean;
  policy: RetentionPolicy;
  cutoff: string;
  total_tenants: number;
  deleted_backups: number;
  deleted_orphans: number;
  busy_tenants: number;
  failed_tenants: number;
  tenants: TenantRetention[];
}

export async function applyRetention(
  services: Services,
  options: RetentionOptions,
): Promise<RetentionResult> {
  const policy = services.config.retention;
  const now = services.now();
  // A pass over every tenant finds them in one listing of storage. Each tenant is then listed again
  // under its lease before anything is deleted: a backup deleted by hand in between could otherwise
  // leave the plan deleting what has become the tenant's newest. A dry run works from the first listing.
  const work: { tenantId: string; listed?: TenantInventory }[] = options.tenantId
    ? [{ tenantId: options.tenantId }]
    : (await inventoriesOfAll(services)).map((listed) => ({ tenantId: listed.tenantId, listed }));

  const tenants: TenantRetention[] = [];
  for (const [index, item] of work.entries()) {
    if (index > 0 && services.now().getTime() >= options.deadline) {
      tenants.push(emptyResult(item.tenantId, "not_started"));
      continue;
    }
    tenants.push(await retainTenant(services, item.tenantId, item.listed, policy, now, options));
  }

  const count = (status: TenantRetention["status"]) => tenants.filter((t) => t.status === status).length;
  const result: RetentionResult = {
    dry_run: options.dryRun,
    complete: count("done") === tenants.length,
    policy,
    cutoff: planRetention([], policy, now).cutoff,
    total_tenants: tenants.length,
    deleted_backups: tenants.reduce((n, t) => n + t.expired.filter((e) => e.deleted).length, 0),
    deleted_orphans: tenants.reduce((n, t) => n + t.orphans.filter((o) => o.deleted).length, 0),
    busy_tenants: count("busy"),
    failed_tenants: count("failed"),
    tenants,
  };
  services.log.info(
    {
      dry_run: result.dry_run,
      tenants: result.total_tenants,
      deleted_backups: result.deleted_backups,
      deleted_orphans: result.deleted_orphans,
      busy: result.busy_tenants,
      failed: result.failed_tenants,
      actor: options.actor,
    },
    "retention pass",
  );
  return result;
}

function emptyResult(tenantId: string, status: TenantRetention["status"]): TenantRetention {
  return { organization_id: tenantId, status, kept: 0, expired: [], orphans: [], skipped: [] };
}

async function retainTenant(
  services: Services,
  tenantId: string,
  listed: TenantInventory | undefined,
  policy: RetentionPolicy,
  now: Date,
  options: RetentionOptions,
): Promise<TenantRetention> {
  const result = emptyResult(tenantId, "done");
  const { log } = services;

  // A dry run changes nothing, so it does not take the lease and never makes a backup wait.
  let lease: Lease | undefined;
  if (!options.dryRun) {
    const taken = await tryLease(services, tenantId, "retention");
    if ("busy" in taken) {
      return {
        ...result,
        status: "busy",
        error: `${taken.busy.operation} running until ${taken.busy.expires_at}`,
      };
    }
    lease = taken.lease;
  }
  try {
    const inventory = options.dryRun && listed ? listed : await tenantInventory(services, tenantId);
    const plan = planRetention(inventory.backups, policy, now);
    result.kept = plan.keep.length;
    const expire = !options.orphansOnly?.has(tenantId);
    for (const { backup, reason } of expire ? plan.remove : []) {
      const expired: ExpiredBackup = {
        backup_id: backup.backupId,
        backup_date: backup.date,
        reason,
        deleted: false,
      };
      result.expired.push(expired);
      if (options.dryRun) continue;
      const deleted = await deleteBackup(services, tenantId, backup, {
        type: "retention",
        reason,
        actor: options.actor,
      });
      // null: someone else deleted it since the listing; it is gone either way.
      expired.deleted = deleted !== null;
      await lease?.renew();
    }

    for (const folder of inventory.orphans) {
      const run = await services.db.getRun(folder.backupId);
      // A run closed as failed is never continued: its files are waste at once (a full disk needs them
      // gone). Others may belong to a run still going, so they wait a day.
      if (run?.status !== "failed" && !isOldEnough(folder, now)) continue;
      const skip = await orphanSkipReason(services, tenantId, folder, run);
      if (skip) {
        result.skipped.push({ backup_id: folder.backupId, reason: skip });
        continue;
      }
      const orphan: OrphanRun = {
        backup_id: folder.backupId,
        backup_date: folder.date,
        files: folder.paths.length,
        bytes: folder.bytes,
        deleted: false,
      };
      result.orphans.push(orphan);
      if (options.dryRun) continue;
      await removeOrphan(services, tenantId, folder, options.actor);
      orphan.deleted = true;
      await lease?.renew();
    }
    if (expire) result.chunks = await sweepTenant(services, tenantId, lease, options, plan.keep);
    return result;
  } catch (err) {
    log.error({ err, tenant: tenantId }, "retention failed for a tenant");
    return { ...result, status: "failed", error: errorMessage(err) };
  } finally {
    await lease?.release();
  }
}

/** The chunk sweep, logged when it deleted anything. */
async function sweepTenant(
  services: Services,
  tenantId: string,
  lease: Lease | undefined,
  options: RetentionOptions,
  keep: { backup: { summaryPath: string } }[],
): Promise<ChunkSweep> {
  const started = services.now();
  const sweep = await sweepChunks(services, tenantId, {
    dryRun: options.dryRun,
    lease,
    // A dry run deleted no backup: only the plan's kept ones count.
    keep: options.dryRun ? new Set(keep.map((k) => k.backup.summaryPath)) : undefined,
  });
  if (sweep.deleted > 0) {
    await services.db.log({
      organization_id: tenantId,
      backup_type: "retention",
      status: "completed",
      backup_date: utcDay(started),
      file_size: sweep.unreferenced_bytes,
      ...logTiming(started, services.now()),
      details: { reason: "chunks no kept backup names", actor: options.actor, chunks: sweep.deleted },
    });
  }
  return sweep;
}

/** Orphans are judged by when their run started (from the id), else by the end of their folder's day. */
function isOldEnough(folder: RunFolder, now: Date): boolean {
  const started =
    startedAtOf(folder.backupId)?.getTime() ?? Date.parse(`${folder.date}T00:00:00Z`) + 24 * 3600 * 1000;
  return now.getTime() - started >= ORPHAN_MIN_AGE_MS;
}

async function orphanSkipReason(
  services: Services,
  tenantId: string,
  folder: RunFolder,
  run: BackupRun | null,
): Promise<string | undefined> {
  if (run?.status === "running") return "its run is still 'running' and may be continued";
  const summary = summaryPath(tenantId, folder.date, folder.backupId);
  if (await objectAt(services.storage, summary)) {
    return "its summary exists now";
  }
  return undefined;
}

async function removeOrphan(services: Services, tenantId: string, folder: RunFolder, actor: string) {
  const started = services.now();
  const files = await services.storage.list(folder.prefix);
  await services.storage.remove(files.map((f) => f.path));
  await services.db.log({
    organization_id: tenantId,
    backup_type: "retention",
    status: "completed",
    backup_date: folder.date,
    backup_id: folder.backupId,
    file_size: files.reduce((n, f) => n + f.size, 0),
    ...logTiming(started, services.now()),
    details: { reason: "orphaned files of a run that never completed", actor, files: files.length },
  });
}
