/**
 * Restores one tenant from a backup, or rehearses it (dry run).
 *
 * 1. Find the backup and check it fits the database (plan.ts) — before touching anything.
 * 2. Take the tenant's lease: one operation per tenant at a time (409 otherwise).
 * 3. Real restore only: back up the tenant's current data first (type pre_restore), the undo point.
 * 4. Stage the backup's rows in pages, each file checked against its SHA-256 and row count first
 *    (a damaged or missing file: 422 naming it, nothing changed).
 * 5. Apply in one transaction inside PostgreSQL (TenantDb.applyRestore); a dry run runs the same
 *    statements and rolls them back, reporting per table what would be inserted, deleted and changed.
 */
import { randomUUID } from "node:crypto";
import type { Manifest } from "../backup/manifest.ts";
import { readVerifiedPages } from "../backup/reader.ts";
import { backupTenant } from "../backup/tenant-backup.ts";
import type { ApplyMode, ApplyReport } from "../db/tenant-db.ts";
import { AppError, errorMessage, fail } from "../errors.ts";
import { takeLease } from "../lease.ts";
import type { Services } from "../services.ts";
import { utcDay } from "../time.ts";
import { pickBackupForRestore } from "./pick-backup.ts";
import { planRestore } from "./plan.ts";

export interface RestoreRequest {
  tenantId: string;
  backupDate: string;
  backupId?: string;
  dryRun: boolean;
  tables?: string[];
  /** Go on although columns of the backup were dropped from the tables since. */
  allowDroppedColumns?: boolean;
  mode?: ApplyMode;
  deadline: number;
}

export type RestoreOutcome =
  | {
      status: "done";
      manifest: Manifest;
      report: ApplyReport;
      warnings: string[];
      undoBackupId: string | null;
      logId: number;
    }
  | { status: "preparing_undo"; manifest: Manifest; undoBackupId: string };

/** Rows and bytes per staging call: bounded request bodies on the PostgREST path. */
const STAGE_ROWS = 5000;
const STAGE_BYTES = 2 * 1024 * 1024;
/** How long the lease lasts while the apply runs: 15 minutes, Netlify's longest function. */
const APPLY_LEASE_SECONDS = 900;

export async function restoreTenant(services: Services, request: RestoreRequest): Promise<RestoreOutcome> {
  const { db, log, config } = services;
  const { manifest } = await pickBackupForRestore(
    services.storage,
    request.tenantId,
    request.backupDate,
    request.backupId,
  );
  const catalog = await db.catalog();
  const plan = planRestore(manifest, catalog, request.tables);

  const lease = await takeLease(services, request.tenantId, request.dryRun ? "restore:dry_run" : "restore");
  const restoreId = randomUUID();
  let logId: number | undefined;
  try {
    let undoBackupId: string | null = null;
    if (!request.dryRun) {
      const tenant = await db.getTenant(request.tenantId);
      const today = utcDay(services.now());
      const unfinished = (await db.runsOn(today, "pre_restore"))
        .filter((r) => r.organization_id === request.tenantId && r.status === "running")
        .at(-1);
      const undo = await backupTenant(services, {
        tenantId: request.tenantId,
        tenantName: tenant?.name ?? manifest.organization_name,
        type: "pre_restore",
        date: today,
        deadline: request.deadline,
        resumeBackupId: unfinished?.backup_id,
        catalog,
        lease,
      });
      if (undo.status !== "completed")
        return { status: "preparing_undo", manifest, undoBackupId: undo.backupId };
      undoBackupId = undo.backupId;
    }

    logId = await db.log({
      organization_id: request.tenantId,
      backup_type: "restore",
      status: "running",
      backup_date: manifest.backup_date,
      backup_id: manifest.backup_id,
      dry_run: request.dryRun,
      tables_count: plan.tables.length,
      details: { undo_backup_id: undoBackupId, tables: plan.tables.map((t) => t.name) },
    });

    for (const table of plan.tables) {
      let page = 0;
      for (const file of table.files) {
        for await (const chunk of readVerifiedPages(services.storage, file, {
          maxRows: STAGE_ROWS,
          maxBytes: STAGE_BYTES,
        })) {
          await db.stageRestorePage({
            restoreId,
            table: table.name,
            page,
            rows: chunk.rows,
            lines: chunk.lines,
          });
          page += 1;
        }
        await lease.renew();
        if (services.now().getTime() >= request.deadline) {
          // Stop before the platform cuts the call mid-way: nothing has changed yet, say what to do instead.
          throw fail(
            "unprocessable",
            `the backup of ${request.tenantId} is too large to restore within one call's time budget ` +
              `(${config.backup.timeBudgetMs} ms); run the restore with \`npm run restore\` and a database connection ` +
              "(see FREE_PLAN_BACKUP_SETUP.md), nothing was changed",
            { reason: "time_budget" },
          );
        }
      }
    }
    // The apply is one call that cannot renew the lease while it runs: give it the longest time a function
    // may run (Netlify's background limit) before another operation could take the tenant.
    await lease.renew(Math.max(config.backup.lockTtlSeconds, APPLY_LEASE_SECONDS));

    const report = await db.applyRestore({
      restoreId,
      planId: catalog.plan_id,
      tenantId: request.tenantId,
      tables: plan.tables.map((t) => ({ name: t.name, row_count: t.row_count, columns: t.columns })),
      dryRun: request.dryRun,
      allowDroppedColumns: request.allowDroppedColumns ?? false,
      mode: request.mode ?? "auto",
    });
    const restored = Object.values(report.tables).reduce((n, t) => n + t.rows_in_backup, 0);
    await db.finishLog(logId, {
      status: report.success ? "completed" : "failed",
      records: request.dryRun || !report.success ? 0 : restored,
      error: report.error?.message ?? null,
      details: {
        undo_backup_id: undoBackupId,
        mode: report.mode,
        warnings: report.warnings,
        tables: report.tables,
        error: report.error,
      },
    });
    return {
      status: "done",
      manifest,
      report,
      warnings: [...plan.warnings, ...report.warnings],
      undoBackupId,
      logId,
    };
  } catch (err) {
    if (logId !== undefined) {
      await db
        .finishLog(logId, {
          status: "failed",
          records: 0,
          error: errorMessage(err),
          details: { code: err instanceof AppError ? err.code : "internal" },
        })
        .catch((e) => log.error({ err: e }, "could not record the failed restore"));
    }
    throw err;
  } finally {
    await db.clearRestoreStage(restoreId).catch((err) => log.warn({ err }, "could not clear staged rows"));
    await lease.release();
  }
}
