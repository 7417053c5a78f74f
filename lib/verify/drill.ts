/**
 * Verification drills (verify-backups): each call takes the tenants whose newest backup was verified
 * longest ago (never first; among equals, the tenant drilled longest ago), and for each one re-reads its
 * newest backup and rehearses restoring it: a dry-run restore, which reads every file of the backup back
 * and checks it against its SHA-256 and row count before staging it, then runs the restore's statements in
 * one transaction and rolls them back. The outcome is recorded (tenant_backup_verifications) and a failure
 * alerted as verify.failed, until a drill of the tenant passes again.
 *
 * How many per call: VERIFY_TENANTS_PER_CALL, or by default a sixth of the tenants with backups (at least
 * one), so that one call a day drills every tenant within six days, a day inside the week to spare. The
 * call's time budget stops it starting another drill (the first always starts); a drill cut by it while
 * staging goes on in the next call, which takes that tenant first again since it is still not verified.
 */
import type { Tenant } from "../alerts/events.ts";
import { verifyFailed, verifyPassed } from "../alerts/watch-events.ts";
import { inventoriesOfAll } from "../backup/inventory.ts";
import { tableObjects } from "../backup/manifest.ts";
import { readManifest, readVerifiedPages, SharedChunkText } from "../backup/reader.ts";
import { AppError, errorMessage } from "../errors.ts";
import { restoreTenant } from "../restore/restore-tenant.ts";
import type { Services } from "../services.ts";

/** Calls a week at the documented frequency (one a day), less one to spare. */
const CALLS_PER_CYCLE = 6;
const NOTE = "verification drill";

export type DrillOutcome = {
  organization_id: string;
  organization_name: string | null;
  backup_id: string;
} & (
  | { status: "passed"; records: number; files: number; verified_at: string; dry_run: boolean }
  | { status: "failed"; error: string; verified_at: string }
  /** Staging was cut by the time budget; the next call goes on. */
  | { status: "incomplete"; staged_records: number; total_records: number }
  /** Another operation holds the tenant. */
  | { status: "busy"; error: string }
  /** Picked, but the time budget was spent before its turn. */
  | { status: "not_started" }
);

export interface DrillResult {
  /** Tenants with at least one backup. */
  total_tenants: number;
  /** How many this call picks. */
  per_call: number;
  passed: number;
  failed: number;
  /** Picked but not finished by this call: busy, cut, or not reached. */
  remaining: number;
  drills: DrillOutcome[];
}

export async function runDrills(services: Services, options: { deadline: number }): Promise<DrillResult> {
  const { db } = services;
  const [tenants, inventories, lastDrills] = await Promise.all([
    db.listTenants(),
    inventoriesOfAll(services),
    db.lastDrills(),
  ]);
  const names = new Map(tenants.map((t) => [t.id, t.name]));
  // Tenants of this database with a backup; a deleted tenant's backups have nothing to be restored into.
  const candidates = inventories.flatMap((inventory) => {
    const newest = inventory.backups[0];
    return newest && names.has(inventory.tenantId)
      ? [{ tenant: { id: inventory.tenantId, name: names.get(inventory.tenantId) ?? null }, newest }]
      : [];
  });
  const verified = new Map(
    (await db.verificationsOf(candidates.map((c) => c.newest.backupId))).map((v) => [v.backup_id, v]),
  );
  // Never verified sorts first; ties go to the tenant drilled longest ago, then by id.
  const time = (at: string | undefined) => (at === undefined ? -1 : Date.parse(at));
  const order = (c: (typeof candidates)[number]) =>
    [time(verified.get(c.newest.backupId)?.verified_at), time(lastDrills[c.tenant.id])] as const;
  candidates.sort((a, b) => {
    const [x, y] = [order(a), order(b)];
    return x[0] - y[0] || x[1] - y[1] || (a.tenant.id < b.tenant.id ? -1 : a.tenant.id > b.tenant.id ? 1 : 0);
  });

  const perCall =
    services.config.verify.tenantsPerCall || Math.max(1, Math.ceil(candidates.length / CALLS_PER_CYCLE));
  const drills: DrillOutcome[] = [];
  for (const { tenant, newest } of candidates.slice(0, perCall)) {
    const about = { organization_id: tenant.id, organization_name: tenant.name, backup_id: newest.backupId };
    if (drills.length > 0 && services.now().getTime() >= options.deadline) {
      drills.push({ ...about, status: "not_started" });
      continue;
    }
    drills.push(await drill(services, tenant, newest, options.deadline));
  }
  const count = (status: DrillOutcome["status"]) => drills.filter((d) => d.status === status).length;
  return {
    total_tenants: candidates.length,
    per_call: perCall,
    passed: count("passed"),
    failed: count("failed"),
    remaining: drills.length - count("passed") - count("failed"),
    drills,
  };
}

async function drill(
  services: Services,
  tenant: Tenant,
  backup: { backupId: string; date: string; summaryPath: string },
  deadline: number,
): Promise<DrillOutcome> {
  const about = { organization_id: tenant.id, organization_name: tenant.name, backup_id: backup.backupId };
  let passed: { records: number; files: number; dry_run: boolean };
  try {
    const outcome = await restoreTenant(services, {
      tenantId: tenant.id,
      backupDate: backup.date,
      backupId: backup.backupId,
      dryRun: true,
      // The drill checks the backup, not the app's buckets: comparing the tenant's files with them would
      // only cost egress.
      files: false,
      deadline,
      requestedBy: "cron",
      createdBy: "cron",
      note: NOTE,
    });
    if (outcome.status === "staging") {
      return {
        ...about,
        status: "incomplete",
        staged_records: outcome.stagedRecords,
        total_records: outcome.totalRecords,
      };
    }
    if (!outcome.report.success) {
      return record(services, tenant, about, `the dry-run restore failed: ${outcome.report.error?.message}`);
    }
    passed = {
      records: outcome.manifest.total_records,
      files: tableObjects(outcome.manifest).length,
      dry_run: true,
    };
  } catch (err) {
    if (err instanceof AppError && err.code === "conflict")
      return { ...about, status: "busy", error: err.message };
    if (err instanceof AppError && err.details?.reason === "apply_too_large") {
      // Through the Supabase API a tenant too large to apply in one call cannot be rehearsed there: its
      // files are still read back and checked, and the record says the dry run was left out.
      try {
        passed = { ...(await checkFiles(services, backup.summaryPath)), dry_run: false };
      } catch (fileErr) {
        return record(services, tenant, about, errorMessage(fileErr));
      }
    } else {
      return record(services, tenant, about, errorMessage(err));
    }
  }
  const at = services.now();
  await services.db.recordVerification({
    tenantId: tenant.id,
    backupId: backup.backupId,
    status: "passed",
    error: null,
    details: passed,
    at,
  });
  await services.alerts.resolve("verify.failed", verifyPassed(tenant, at, { backup_id: backup.backupId }));
  return { ...about, status: "passed", ...passed, verified_at: at.toISOString() };
}

/** Records a failed drill and alerts it (once, until a drill of the tenant passes). */
async function record(
  services: Services,
  tenant: Tenant,
  about: { organization_id: string; organization_name: string | null; backup_id: string },
  error: string,
): Promise<DrillOutcome> {
  const at = services.now();
  await services.db.recordVerification({
    tenantId: tenant.id,
    backupId: about.backup_id,
    status: "failed",
    error,
    details: {},
    at,
  });
  await services.alerts.raise(verifyFailed(tenant, at, { backup_id: about.backup_id, error }));
  return { ...about, status: "failed", error, verified_at: at.toISOString() };
}

/**
 * Reads every file of the backup back, checking its SHA-256 and row count (422 naming a bad one): each
 * table's entry, so a chunk small tables share is checked for each of its tables' slices (read and
 * checked by SHA-256 once, its line count for each).
 */
async function checkFiles(
  services: Services,
  summaryPath: string,
): Promise<{ records: number; files: number }> {
  const manifest = await readManifest(services.storage, summaryPath);
  const shared = new SharedChunkText();
  for (const file of manifest.tables.flatMap((t) => t.files)) {
    for await (const _page of readVerifiedPages(
      services.storage,
      file,
      { maxRows: 10_000, maxBytes: 4 << 20 },
      shared,
    )) {
      // The pages are only read: readVerifiedPages checks the checksum first and the row count at the end.
    }
  }
  return { records: manifest.total_records, files: tableObjects(manifest).length };
}
