/**
 * Restores one tenant from a backup, or rehearses it (dry run).
 *
 * 1. Find the backup and check it fits the database (plan.ts) — before touching anything. Through the
 *    Supabase API, also check that the one-transaction apply fits one call's statement timeout: a backup
 *    too large for that is refused here (422), pointing to the direct path, before anything changes.
 * 2. Take the tenant's lease: one operation per tenant at a time (409 otherwise).
 * 3. Stage the backup's rows in pages, each file checked against its SHA-256 and row count first
 *    (a damaged or missing file: 422 naming it, nothing changed). Staging goes on across calls: a call
 *    stages what fits its time budget and answers "staging"; the next call of the same restore asks the
 *    database what is staged already (the staged pages are the record) and continues from there. Over a
 *    direct connection, a table of over 1,000 rows restored by hash, in which the tenant has no rows, is
 *    staged by COPY into a table of its types (each row with its line's md5), so its values are parsed
 *    once, as COPY FROM parses them.
 * 4. Apply in one transaction inside PostgreSQL. A real restore (tenant_backup_apply_live) first locks the
 *    restored tables against writes (the app's writes wait, reads go on) and captures the tenant's rows as
 *    they are: that capture is the undo point, so every write the app committed is either in the data after
 *    the restore or in the undo point. The restored tables are captured from what the apply compares (the
 *    backup's lines of the rows that were equal, the tenant's lines of the rows it replaces), and a table
 *    it leaves as it was keeps the restored backup's own entry when that backup's chunks can be shared. The same transaction closes the restore's log row, frees the lease and
 *    clears the staging. A dry run runs the same statements and rolls them back, reporting per table what
 *    would be inserted, deleted and changed.
 * 5. After the commit, the captured undo point is stored as the tenant's pre_restore backup (same id).
 */
import { createHash } from "node:crypto";
import type { ValidationReport } from "../api-answers.ts";
import type { CreatedBy } from "../auth/principal.ts";
import { NotABackupLine } from "../backup/line-to-copy-text.ts";
import { dropLines } from "../backup/lines.ts";
import { FILES_FORMAT_VERSION, type Manifest, type ManifestTable } from "../backup/manifest.ts";
import { dayOfBackupId } from "../backup/paths.ts";
import { readVerifiedPages, SharedChunkText } from "../backup/reader.ts";
import { backupTenant } from "../backup/tenant-backup.ts";
import { typedStageRows } from "../backup/typed-stage-rows.ts";
import { withCaptureId } from "../backup/unused-id.ts";
import { isTenantChunkPath } from "../chunks/paths.ts";
import { encryptionOf } from "../crypto/encrypting-storage.ts";
import { DatabaseError } from "../db/port.ts";
import type { ApplyMode, ApplyReport } from "../db/tenant-db.ts";
import { AppError, errorMessage, fail } from "../errors.ts";
import { type FilesOption, type FilesRestoreReport, restoreFiles } from "../files/restore-files.ts";
import { type Lease, takeLease } from "../lease.ts";
import type { Services } from "../services.ts";
import { reportOf, rulesToRun, SAMPLE_KEYS } from "../validation/check.ts";
import { vacuumDeadRows } from "./dead-rows.ts";
import { pickBackupForRestore } from "./pick-backup.ts";
import { planRestore, type RestorePlan } from "./plan.ts";
import { analyzeStaleTables } from "./stale-statistics.ts";

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
  /** Who asked, for the alert: "cron", or the user's e-mail or id. */
  requestedBy?: string;
  /** Who asked, as the restore's backup_logs row and its undo point keep it. */
  createdBy?: CreatedBy;
  /** Why, in the asker's words: kept with the restore's log row and its undo point. */
  note?: string | null;
  /**
   * The tenant's files (TENANT_FILE_BUCKETS): true restores them after the rows commit, "only" restores
   * them and leaves the rows alone, false leaves them alone. Absent: true when the backup holds files.
   */
  files?: FilesOption;
  /**
   * The backup is read from the off-site copy (services.storage is that copy): its undo point names none
   * of the copy's chunks, since an undo point left waiting may be stored by a later restore from the primary.
   */
  offsite?: boolean;
}

export type RestoreOutcome =
  | {
      status: "done";
      manifest: Manifest;
      report: ApplyReport;
      warnings: string[];
      undoBackupId: string | null;
      logId: number;
      /** A dry run with rules: what the backup's rows would break once restored. */
      validation: ValidationReport | null;
      /** The files step, when it ran (or, in a dry run, was planned). */
      files: FilesRestoreReport | null;
    }
  /** Staging goes on: call again with the same request to continue. */
  | { status: "staging"; manifest: Manifest; stagedRecords: number; totalRecords: number };

/**
 * Staged page numbers: where the page's first rows are, as their file's index × this + their part's number
 * within the file (parts as the file is read in pages), so that numbers follow the rows' order.
 */
const PAGES_PER_FILE = 100_000;
const NEWLINE = Buffer.from("\n");
/**
 * Tables of more rows than this are staged typed on a direct connection (TenantDb.openTypedStage). A
 * smaller one is staged as lines: casting a few rows costs the apply little, and it makes no temp table
 * for them, where a staging table would be files made and removed for each.
 */
const TYPED_STAGE_MIN_ROWS = 1000;
/** How long the lease lasts while the apply runs: 15 minutes, Netlify's longest function. */
const APPLY_LEASE_SECONDS = 900;

/**
 * The same restore (tenant, backup, dry run or not, tables) gets the same id in every call, so that a call
 * finds what the previous ones staged.
 */
function restoreIdOf(request: RestoreRequest, manifest: Manifest, plan: RestorePlan): string {
  const key = JSON.stringify([
    request.tenantId,
    manifest.backup_id,
    request.dryRun,
    plan.tables.map((t) => t.name),
  ]);
  return createHash("sha256").update(key).digest("hex").slice(0, 32);
}

/** The apply's estimated time, from the rows it writes and RESTORE_APPLY_ROWS_PER_SECOND. */
function estimatedApplyMs(services: Services, records: number): number {
  return Math.ceil((records / services.config.restore.applyRowsPerSecond) * 1000);
}

/**
 * Through the Supabase API the apply is one call, cut by the statement_timeout it runs under and by the
 * function call around it (RESTORE_API_APPLY_LIMIT_MS). Refuses, before anything happens, a restore whose
 * apply would not fit.
 */
function checkApplyFitsOneCall(services: Services, tenantId: string, records: number): void {
  if (services.db.kind !== "supabase") return;
  const limitMs = services.config.restore.apiApplyLimitMs;
  const estimatedMs = estimatedApplyMs(services, records);
  if (estimatedMs <= limitMs) return;
  throw fail(
    "unprocessable",
    `restoring ${records} rows of ${tenantId} takes about ${Math.ceil(estimatedMs / 1000)} s in one transaction, ` +
      `longer than one call through the Supabase API may run (${limitMs} ms); ` +
      "nothing was changed: run it with `npm run restore` over a direct connection (DATABASE_URL), " +
      "see FREE_PLAN_BACKUP_SETUP.md",
    { reason: "apply_too_large", records, estimated_ms: estimatedMs, limit_ms: limitMs },
  );
}

/**
 * A page gathered for staging: the number of its first part, its rows, and its lines' bytes as views of
 * the chunks read (joined by "\n" only as they are sent); `copy` when they are COPY rows (typed staging
 * reads format 3's chunks as they are stored), which a page never mixes with lines.
 */
type Gathered = { page: number; rows: number; bytes: number; lines: Buffer[]; copy: boolean };

/**
 * A page of table `table` as the COPY rows of its typed staging table (typedStageRows). Throws a
 * NotABackupLine when a line is not one.
 */
function typedText(table: string, page: Gathered): Buffer {
  const { text, rows } = typedStageRows(page.page, page.lines, page.copy);
  if (rows !== page.rows)
    throw new Error(`${table}: page ${page.page} holds ${rows} lines, ${page.rows} were expected`);
  return text;
}

/**
 * Stages what is not staged yet, until done or the deadline passes, in pages of up to BACKUP_PAGE_BYTES of
 * lines and BACKUP_PAGE_ROWS rows, each one request on the PostgREST path: a page gathers consecutive files
 * (chunks are smaller than a page) and parts of files larger than one. On a direct connection, a large
 * table restored by hash that the tenant has no rows in is staged typed (TenantDb.openTypedStage); when one
 * of its lines is not a backup line or the database refuses one of its values for its type, the table is
 * staged again as lines, whose apply reports that value as any restore does. Answers the rows staged in
 * all, and whether everything is.
 */
async function stageBackup(
  services: Services,
  lease: Lease,
  ids: { restoreId: string; tenantId: string; planId: string },
  plan: RestorePlan,
  deadline: number,
): Promise<{ staged: number; done: boolean; stagedNow: number }> {
  const { db } = services;
  const { restoreId, tenantId, planId } = ids;
  const limits = { maxRows: services.config.backup.pageRows, maxBytes: services.config.backup.pageBytes };
  const progress = await db.restoreStageProgress(restoreId);
  let staged = plan.tables.reduce((n, t) => n + Number(progress[t.name]?.rows ?? 0), 0);
  let stagedNow = 0;
  // A small tenant's tables share one chunk: it is read once for all of them.
  const shared = new SharedChunkText();
  /** Stages what is left of `table` (`done` of it staged already); false when the deadline stopped it. */
  const stageTable = async (
    table: RestorePlan["tables"][number],
    done: { rows: number; last_page: number } | undefined,
    typed: string | null,
  ): Promise<boolean> => {
    // Staging is sequential, in the files' order: the rows staged are the table's first rows, and the
    // pages after them are numbered past the last one staged.
    let skip = done ? Number(done.rows) : 0;
    let lastPage = done ? Number(done.last_page) : -1;
    /** The next page. */
    let gathered: Gathered | null = null;
    /**
     * The page being written: one at a time, while the next is read, checked and gathered (the database
     * parses one page while the engine prepares the next).
     */
    let writing = null as Promise<void> | null;
    /** `text`: a typed page's COPY rows (typedText); a page of lines is sent as its lines. */
    const write = async ({ page, rows, lines }: Gathered, text: Buffer | null) => {
      if (typed && text) {
        await db.stageTypedPage({ restoreId, table: table.name, relation: typed, page, rows, text });
      } else {
        await db.stageRestorePage({ restoreId, table: table.name, page, rows, lines });
      }
      staged += rows;
      stagedNow += rows;
      await lease.renew();
    };
    /**
     * Starts writing the page gathered once the page before is written. A typed page's COPY rows are built
     * before that wait, while the database still parses the page before.
     */
    const flush = async () => {
      const next = gathered;
      gathered = null;
      const text = next && typed ? typedText(table.name, next) : null;
      await writing;
      writing = null;
      if (!next) return;
      writing = write(next, text);
      // Awaited by the next flush, or below; never left to reject unheard meanwhile.
      writing.catch(() => undefined);
    };
    /** Reads and gathers the table's pages, flushing each; false when the deadline stopped it. */
    const gatherAndFlush = async (): Promise<boolean> => {
      for (const [fileIndex, file] of table.files.entries()) {
        if (skip >= file.rows) {
          skip -= file.rows;
          continue;
        }
        let page = fileIndex * PAGES_PER_FILE;
        const pages = readVerifiedPages(services.storage, file, limits, shared, { copyText: typed !== null });
        for await (const part of pages) {
          let { rows, data } = part;
          if (skip > 0) {
            const dropped = Math.min(skip, rows);
            skip -= dropped;
            rows -= dropped;
            data = rows > 0 ? dropLines(data, dropped) : [];
          }
          if (rows > 0) {
            const bytes = data.reduce((n, b) => n + b.length, 0) + 1;
            const fits =
              gathered !== null &&
              gathered.copy === part.copy &&
              gathered.rows + rows <= limits.maxRows &&
              gathered.bytes + bytes <= limits.maxBytes;
            if (gathered && !fits) {
              await flush();
              // Each call stages at least a page, so that calls always get somewhere.
              if (services.now().getTime() >= deadline) return false;
            }
            if (gathered) {
              gathered.rows += rows;
              gathered.bytes += bytes;
              gathered.lines.push(NEWLINE, ...data);
            } else {
              // Past the last page staged even if the page settings changed between calls.
              lastPage = Math.max(page, lastPage + 1);
              gathered = { page: lastPage, rows, bytes, lines: [...data], copy: part.copy };
            }
          }
          page += 1;
        }
      }
      return true;
    };
    try {
      if (!(await gatherAndFlush())) {
        await writing;
        return false;
      }
      await flush();
      await writing;
      return true;
    } catch (err) {
      // Not before the page being written is done: the caller may drop what was staged.
      await writing?.catch(() => undefined);
      throw err;
    }
  };
  for (const table of plan.tables) {
    const done = progress[table.name];
    if (done && Number(done.rows) === table.row_count) continue;
    const typed =
      table.row_count > TYPED_STAGE_MIN_ROWS
        ? await db.openTypedStage({
            restoreId,
            tenantId,
            planId,
            spec: { name: table.name, columns: table.columns },
          })
        : null;
    const before = { staged, stagedNow };
    let finished: boolean;
    try {
      finished = await stageTable(table, done, typed);
    } catch (err) {
      if (!typed || !refusedWhenTyped(err)) throw err;
      services.log.warn(
        { restoreId, table: table.name, err: errorMessage(err) },
        "staging the table as lines: its typed staging was refused",
      );
      await db.dropTypedStage(restoreId, table.name);
      // What was staged of the table, in this call or before, is gone with it.
      staged = before.staged - Number(done?.rows ?? 0);
      stagedNow = before.stagedNow;
      finished = await stageTable(table, undefined, null);
    }
    if (!finished) return { staged, done: false, stagedNow };
    if (services.now().getTime() >= deadline && stagedNow > 0) return { staged, done: false, stagedNow };
  }
  return { staged, done: true, stagedNow };
}

/**
 * What stops a table's typed staging but not its staging as lines: a line that is not a backup line, or
 * a value the database refuses for its type (data exceptions, class 22; a domain's check, class 23).
 */
function refusedWhenTyped(err: unknown): boolean {
  if (err instanceof NotABackupLine) return true;
  return err instanceof DatabaseError && /^2[23]/.test(err.sqlState ?? "");
}

/** The apply's failures as the errors they mean; the transaction rolled back whole either way. */
function applyFailure(tenantId: string) {
  return (err: unknown): never => {
    if (err instanceof DatabaseError && err.sqlState === "57014") {
      throw fail(
        "unavailable",
        `the restore of ${tenantId} ran past the database's statement timeout and was cancelled; ` +
          "nothing was changed: run it with `npm run restore` over a direct connection (DATABASE_URL)",
        { reason: "statement_timeout" },
      );
    }
    if (err instanceof DatabaseError && err.sqlState === "55P03") {
      throw fail(
        "unavailable",
        `the restore of ${tenantId} could not lock the tenant's tables against the app's writes in time ` +
          "(long transactions were writing to them); nothing was changed: try again",
        { reason: "tables_busy" },
      );
    }
    throw err;
  };
}

/**
 * Stores the undo point an apply captured as the tenant's pre_restore backup (same id). Answers false when
 * it could not finish in this call: the capture stays in the database, and the tenant's next restore
 * stores it first.
 */
async function storeUndo(
  services: Services,
  tenantId: string,
  captureId: string,
  tenantName: string | null,
  deadline: number,
  who: { createdBy?: CreatedBy; note?: string | null } = {},
): Promise<boolean> {
  try {
    const undo = await backupTenant(services, {
      tenantId,
      tenantName,
      type: "pre_restore",
      // The day of the capture, which its id tells: where the undo point is looked for, even when it is
      // stored on a later day.
      date: dayOfBackupId(captureId),
      deadline,
      captureId,
      createdBy: who.createdBy,
      note: who.note,
    });
    return undo.status === "completed";
  } catch (err) {
    services.log.error({ err, tenant: tenantId, captureId }, "could not store the restore's undo point yet");
    return false;
  }
}

/** The restore's backup_logs row, opened as running; answers its id. */
function logRestoreStart(
  services: Services,
  request: RestoreRequest,
  manifest: Manifest,
  tables: number,
  details: Record<string, unknown>,
): Promise<number> {
  return services.db.log({
    organization_id: request.tenantId,
    backup_type: "restore",
    status: "running",
    backup_date: manifest.backup_date,
    backup_id: manifest.backup_id,
    dry_run: request.dryRun,
    tables_count: tables,
    details,
    created_by: request.createdBy ?? null,
    note: request.note ?? null,
  });
}

function undoPending(captureId: string): string {
  return (
    `the undo point ${captureId} is captured in the database but not yet stored as a backup; ` +
    "the next restore of this tenant stores it first"
  );
}

/**
 * When the undo point may name the restored backup's entry for a table the apply leaves as it was: the
 * backup is chunked (format 2 or 3: each entry says how its rows are written) like the undo point will be,
 * the tenant's own, written with the key the undo point is written with, and every chunk is in the
 * tenant's folder (the mark and sweep of retention keeps a chunk while any summary or captured undo point
 * names it). null when it may not.
 */
function sharedEntries(services: Services, tenantId: string, manifest: Manifest) {
  if (manifest.format_version === FILES_FORMAT_VERSION || services.config.backup.layout !== "chunks")
    return null;
  if (manifest.organization_id !== tenantId) return null;
  if ((manifest.encryption?.key_id ?? null) !== (encryptionOf(services.storage)?.key_id ?? null)) return null;
  return (table: ManifestTable) =>
    table.files.every((f) => isTenantChunkPath(tenantId, f.path)) ? { files: table.files } : undefined;
}

/** Refusals before anything was tried: the caller's mistake or a busy tenant, not a failed restore. */
const REFUSED = new Set(["not_found", "conflict", "bad_request", "rate_limited"]);

/**
 * Restores a tenant, then tells the alert channels how a real (not dry-run) restore ended, after the work
 * and its lease are done.
 */
export async function restoreTenant(services: Services, request: RestoreRequest): Promise<RestoreOutcome> {
  let outcome: RestoreOutcome;
  const tenantOf = (name: string | null) => ({ id: request.tenantId, name });
  const about = {
    backup_id: request.backupId ?? request.backupDate,
    requested_by: request.requestedBy ?? "unknown",
  };
  try {
    outcome = await restoreOnce(services, request);
  } catch (err) {
    if (!request.dryRun && !(err instanceof AppError && REFUSED.has(err.code))) {
      await services.alerts.restoreFinished(tenantOf(null), {
        ...about,
        undo_backup_id: null,
        error: errorMessage(err),
      });
    }
    throw err;
  }
  if (outcome.status === "done" && !request.dryRun) {
    const tenant = tenantOf(outcome.manifest.organization_name);
    const details = { ...about, backup_id: outcome.manifest.backup_id, undo_backup_id: outcome.undoBackupId };
    await services.alerts.restoreFinished(
      tenant,
      outcome.report.success
        ? details
        : { ...details, error: outcome.report.error?.message ?? "the apply was rolled back" },
    );
  }
  return outcome;
}

async function restoreOnce(services: Services, request: RestoreRequest): Promise<RestoreOutcome> {
  const { db, log, config } = services;
  const { manifest } = await pickBackupForRestore(
    services.storage,
    request.tenantId,
    request.backupDate,
    request.backupId,
  );
  const files = filesWanted(request, manifest);
  if (files === "only") return restoreFilesOnly(services, request, manifest);
  const catalog = await db.catalog();
  const plan = planRestore(manifest, catalog, request.tables);

  const totalRecords = plan.tables.reduce((n, t) => n + t.row_count, 0);
  checkApplyFitsOneCall(services, request.tenantId, totalRecords);

  const lease = await takeLease(services, request.tenantId, request.dryRun ? "restore:dry_run" : "restore");
  const restoreId = restoreIdOf(request, manifest, plan);
  let logId: number | undefined;
  // Staged rows stay for the next call while the restore goes on; they go once it ends, either way.
  let keepStage = false;
  // Once the apply has answered, its own transaction has recorded the outcome: nothing more to log.
  let committed = false;
  try {
    // Undo points captured by earlier restores whose call died before storing them go to storage first.
    if (!request.dryRun) {
      for (const pending of await db.pendingUndo(request.tenantId)) {
        await storeUndo(services, request.tenantId, pending, manifest.organization_name, request.deadline);
      }
    }
    const staging = await stageBackup(
      services,
      lease,
      { restoreId, tenantId: request.tenantId, planId: catalog.plan_id },
      plan,
      request.deadline,
    );
    const stillStaging = {
      status: "staging",
      manifest,
      stagedRecords: staging.staged,
      totalRecords,
    } as const;
    if (!staging.done) {
      keepStage = true;
      return stillStaging;
    }
    // Written among as few dead rows as autovacuum would leave (see dead-rows.ts), and planned on
    // statistics that count the tenant's rows as they are (see stale-statistics.ts); before the check
    // below, which then counts the time they took.
    const written = plan.tables.map((t) => t.name);
    const applyMs = estimatedApplyMs(services, totalRecords);
    const spareMs = request.deadline - services.now().getTime() - applyMs;
    await vacuumDeadRows(services, catalog.plan_id, written, spareMs, { restoreId });
    await analyzeStaleTables(services, catalog.plan_id, written, { restoreId });
    // The apply must fit one call: when what is left of this one is too short for it, the next call
    // (which finds everything staged) applies.
    if (staging.stagedNow > 0 && services.now().getTime() + applyMs > request.deadline) {
      keepStage = true;
      return stillStaging;
    }

    const openLog = await logRestoreStart(services, request, manifest, plan.tables.length, {
      tables: written,
    });
    logId = openLog;

    // The apply is one call that cannot renew the lease while it runs: give it the longest time a function
    // may run (Netlify's background limit) before another operation could take the tenant.
    await lease.renew(Math.max(config.backup.lockTtlSeconds, APPLY_LEASE_SECONDS));

    // A real restore's undo point is captured by the apply itself, under its lock (tenant_backup_apply_live),
    // and named as the tenant is named now.
    const tenantName = request.dryRun ? null : ((await db.getTenant(request.tenantId))?.name ?? null);
    const shared =
      request.dryRun || request.offsite ? null : sharedEntries(services, request.tenantId, manifest);
    const tables = plan.tables.map((t) => ({
      name: t.name,
      row_count: t.row_count,
      columns: t.columns,
      ...(shared ? { reuse: shared(t) } : {}),
    }));
    // A dry run also checks the rules against the backup's rows, as the restore would leave them: the
    // same apply, run inside a block the database rolls back (tenant_backup_apply_checked).
    const { rules, checkable, stale } = request.dryRun
      ? await rulesToRun(services, catalog)
      : { rules: [], checkable: [], stale: [] };
    let validation: ValidationReport | null = null;
    let report: ApplyReport;
    /** The undo point a real restore's apply captured; null for a dry run. */
    let captureId: string | null = null;
    if (checkable.length > 0) {
      const at = services.now();
      const checked = await db
        .applyRestoreChecked({
          restoreId,
          planId: catalog.plan_id,
          tenantId: request.tenantId,
          tables,
          mode: request.mode ?? "auto",
          logId,
          holder: lease.holder,
          rules: checkable,
          now: at,
          sample: SAMPLE_KEYS,
        })
        .catch(applyFailure(request.tenantId));
      const { validation: raw, ...applied } = checked;
      report = applied;
      if (raw) validation = reportOf(rules, [...raw, ...stale], at);
    } else {
      const applyLive = (id: string) =>
        db
          .applyRestoreLive({
            restoreId,
            planId: catalog.plan_id,
            tenantId: request.tenantId,
            tables,
            dryRun: request.dryRun,
            allowDroppedColumns: request.allowDroppedColumns ?? false,
            mode: request.mode ?? "auto",
            logId: openLog,
            holder: lease.holder,
            captureId: id,
          })
          .catch(applyFailure(request.tenantId));
      // The apply claims the undo point's id: taken, it changes nothing and runs again under another.
      ({ captureId, result: report } = await withCaptureId(
        services,
        "an undo point",
        request.dryRun,
        applyLive,
      ));
      // Rules, but none that fits the schema now: each is reported as not checked.
      if (rules.length > 0 && report.success) validation = reportOf(rules, stale, services.now());
    }
    // Committed (or rolled back whole): the log row is closed, the lease free, the staging gone.
    committed = true;
    const warnings = [...plan.warnings, ...report.warnings];
    let undoBackupId: string | null = null;
    let undoStored = true;
    if (report.success && captureId !== null) {
      undoBackupId = captureId;
      const stored = await storeUndo(
        services,
        request.tenantId,
        captureId,
        tenantName ?? manifest.organization_name,
        request.deadline,
        {
          createdBy: request.createdBy,
          note: request.note ?? `undo point of the restore from ${manifest.backup_id}`,
        },
      );
      if (!stored) warnings.push(undoPending(captureId));
      undoStored = stored;
    }
    // After the rows (and the undo point, which holds the files as they were): the rows stay restored
    // whatever happens to the files, and a failed file step is reported, to be run again alone.
    // Files are replaced only once the undo point holds them as they were.
    const filesReport =
      files && report.success
        ? undoStored
          ? await filesStep(services, request, manifest)
          : filesFailed(
              request.dryRun,
              `files not restored yet: the undo point ${undoBackupId} is not stored; restore again with files: "only"`,
            )
        : null;
    if (filesReport) warnings.push(...filesReport.warnings);
    return {
      status: "done",
      manifest,
      report,
      warnings,
      undoBackupId,
      logId,
      validation,
      files: filesReport,
    };
  } catch (err) {
    if (committed) throw err;
    // Failures before the apply (a damaged file, the apply refused) are logged as well as the apply's own.
    logId ??= await logRestoreStart(services, request, manifest, plan.tables.length, {
      tables: plan.tables.map((t) => t.name),
    }).catch((e) => {
      log.error({ err: e }, "could not record the failed restore");
      return undefined;
    });
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
    if (!keepStage) {
      await db.clearRestoreStage(restoreId).catch((err) => log.warn({ err }, "could not clear staged rows"));
    }
    await lease.release();
  }
}

/** What the request asks of the tenant's files, checked against what the backup holds. */
function filesWanted(request: RestoreRequest, manifest: Manifest): FilesOption {
  if (request.files === undefined) return manifest.files !== undefined;
  if (request.files !== false && manifest.files === undefined) {
    throw fail(
      "bad_request",
      `backup ${manifest.backup_id} holds no files (it was taken without TENANT_FILE_BUCKETS): restore it with files: false`,
      { field: "files" },
    );
  }
  return request.files;
}

/**
 * The files step under the tenant's lease, taken anew (the apply's transaction freed the restore's). Its
 * failure, a busy tenant included, is reported rather than thrown: the rows are restored by then.
 */
async function filesStep(
  services: Services,
  request: RestoreRequest,
  manifest: Manifest,
): Promise<FilesRestoreReport> {
  let lease: Lease | undefined;
  try {
    lease = await takeLease(services, request.tenantId, request.dryRun ? "restore:dry_run" : "restore:files");
    const held = lease;
    return await restoreFiles(services, manifest, request.tenantId, request.dryRun, () => held.renew());
  } catch (err) {
    services.log.error({ err, tenant: request.tenantId }, "the restore's files step failed");
    return filesFailed(request.dryRun, errorMessage(err));
  } finally {
    await lease?.release();
  }
}

function filesFailed(dryRun: boolean, error: string): FilesRestoreReport {
  return {
    dry_run: dryRun,
    success: false,
    changes: [],
    added: 0,
    replaced: 0,
    removed: 0,
    unchanged: 0,
    error,
    warnings: [],
  };
}

/**
 * files: "only": the tenant's files, the rows left as they are; logged as a restore of no tables. Takes no
 * undo point of its own (the tenant's backups hold its files), but first stores any undo point an earlier
 * restore left in the database, which holds the files as they are now.
 */
async function restoreFilesOnly(
  services: Services,
  request: RestoreRequest,
  manifest: Manifest,
): Promise<RestoreOutcome> {
  const { db } = services;
  const lease = await takeLease(
    services,
    request.tenantId,
    request.dryRun ? "restore:dry_run" : "restore:files",
  );
  try {
    if (!request.dryRun) {
      for (const pending of await db.pendingUndo(request.tenantId)) {
        if (
          !(await storeUndo(
            services,
            request.tenantId,
            pending,
            manifest.organization_name,
            request.deadline,
          ))
        ) {
          throw fail("unavailable", undoPending(pending));
        }
      }
    }
    const logId = await logRestoreStart(services, request, manifest, 0, { files: "only" });
    let files: FilesRestoreReport;
    try {
      files = await restoreFiles(services, manifest, request.tenantId, request.dryRun, () => lease.renew());
    } catch (err) {
      await db
        .finishLog(logId, {
          status: "failed",
          records: 0,
          error: errorMessage(err),
          details: { files: "only" },
        })
        .catch((e) => services.log.error({ err: e }, "could not record the failed restore"));
      throw err;
    }
    const counts = { added: files.added, replaced: files.replaced, removed: files.removed };
    await db.finishLog(logId, {
      status: files.success ? "completed" : "failed",
      records: 0,
      error: files.error,
      details: { files: "only", ...counts },
    });
    const report: ApplyReport = {
      success: files.success,
      dry_run: request.dryRun,
      mode: "none",
      tables: {},
      warnings: [],
      timings_ms: {},
      error: files.error ? { sqlstate: "", message: files.error } : null,
    };
    return {
      status: "done",
      manifest,
      report,
      warnings: files.warnings,
      undoBackupId: null,
      logId,
      validation: null,
      files,
    };
  } finally {
    await lease.release();
  }
}
