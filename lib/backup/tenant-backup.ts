/**
 * One tenant's backup: every tenant table, read in primary-key pages inside PostgreSQL, written as
 * compressed parts, then the manifest last. Resumable: while parts are read from the run's copy of the
 * tenant the run's progress is saved in the database — when the call stops, and every third of the
 * lease's time meanwhile (a small tenant's run saves once, not once per table) — so a run cut by the time
 * budget continues from its last part, and one killed from its last saved part; parts written after it
 * are simply written again under the same keys.
 *
 * Small tables (lib/backup/small-tables.ts): a table whose whole text is one small chunk waits, and the
 * tenant's waiting tables are stored together as one chunk once the tables are read (or before the call
 * stops for its budget); a waiting table is saved as done only then.
 *
 * One moment: on a direct connection the run's first call reads every table inside one held snapshot,
 * and a tenant that fits the call is backed up with no copy at all. Otherwise the tenant's rows (on the
 * direct path: of the tables the call did not finish, copied inside that same snapshot) are copied into
 * the database in one statement (tenant_backup_snapshot_take), and every later part is read from that
 * copy, over any number of calls; it is dropped when the run ends. A copy lost to a database restart, or a
 * call killed before it copied, makes the run start over: parts of two moments never meet in one backup.
 */

import { createGzip } from "node:zlib";
import type { CreatedBy } from "../auth/principal.ts";
import { type Catalog, type CatalogTable, schemaFingerprint, storedColumns } from "../catalog.ts";
import { zstdFileStream } from "../chunks/codec.ts";
import { ChunkCutter, chunkBounds } from "../chunks/cutter.ts";
import { ChunkStore, type StoredChunk } from "../chunks/store.ts";
import { encryptionOf } from "../crypto/encrypting-storage.ts";
import { DatabaseError, type HeldSnapshot } from "../db/port.ts";
import type { BackupRun, SnapshotTaken } from "../db/tenant-db.ts";
import { AppError, errorMessage, fail } from "../errors.ts";
import { backupFiles, type FilesProgress, filesSection } from "../files/backup-files.ts";
import { isTakenOver, type Lease, leaseLost, takeLease, takenOver } from "../lease.ts";
import type { Services } from "../services.ts";
import { validateTenant } from "../validation/check.ts";
import type { StoredRule } from "../validation/rules.ts";
import type { RowsText } from "./lines.ts";
import {
  type BackupType,
  distinctObjects,
  FILES_FORMAT_VERSION,
  FORMAT,
  FORMAT_VERSION,
  LOG_TYPE,
  type Manifest,
  type ManifestFile,
  type ManifestTable,
  type ManifestValidation,
} from "./manifest.ts";
import { PartWriter } from "./part-writer.ts";
import { filePath, summaryPath } from "./paths.ts";
import { openRowSource, type RowSource } from "./row-source.ts";
import { SmallTables } from "./small-tables.ts";
import { drawUnusedId } from "./unused-id.ts";

export interface TenantBackupRequest {
  tenantId: string;
  tenantName: string | null;
  type: BackupType;
  /** UTC day the backup belongs to. */
  date: string;
  /** Epoch ms after which no new page is started; the run then stops as "incomplete". */
  deadline: number;
  /** Continue this run instead of starting a new one. */
  resumeBackupId?: string;
  /** The catalog, when the caller already read it (the daily run reads it once for all tenants). */
  catalog?: Catalog;
  /** The enabled validation rules, when the caller already read them (as the daily run does, once). */
  rules?: StoredRule[];
  /** The tenant's lease, when the caller already holds it (a restore taking its undo point). */
  lease?: Lease;
  /**
   * Store the rows a restore's apply captured as undo point `captureId` (tenant_backup_undo) instead of
   * reading the tables: the backup gets the capture's id, and no tenant lease, since nothing else writes
   * a capture. The captured rows are dropped once the backup is complete.
   */
  captureId?: string;
  /** Who started the backup, kept in its manifest and backup_logs row (a resumed run keeps the first's). */
  createdBy?: CreatedBy;
  /** Why, in the starter's words. */
  note?: string | null;
  /** Back up even when VALIDATION_BLOCKS_BACKUP is on and rows break rules (a manual backup's override). */
  ignoreValidation?: boolean;
}

export type TenantBackupResult =
  | {
      status: "completed";
      backupId: string;
      summaryPath: string;
      records: number;
      bytes: number;
      tables: number;
      manifest: Manifest;
    }
  | {
      status: "incomplete";
      backupId: string;
      records: number;
      bytes: number;
      tablesDone: number;
      tables: number;
    };

interface TableProgress {
  files: ManifestFile[];
  after: string[] | null;
  done: boolean;
}

interface RunProgress {
  schema_fingerprint: string;
  started_at: string;
  /** How the run stores its rows; a run continues in the layout it started with. */
  layout?: "chunks" | "files";
  /** Layout files: the codec of its table files (runs saved before zstd files wrote gzip). */
  file_codec?: FileCodec;
  /** Bytes of chunks the run uploaded (layout chunks): what it added to storage. */
  written_bytes?: number;
  /** Who started the run and why, as its first call was told. */
  created_by?: CreatedBy | null;
  note?: string | null;
  /** The run's copy of the tenant: when it was taken and its rows by table. */
  snapshot?: SnapshotTaken;
  /** What the validation rules found when the run started; absent when there are no rules. */
  validation?: ManifestValidation;
  tables: Record<string, TableProgress>;
  /** The tenant's uploaded files copied so far (TENANT_FILE_BUCKETS set): the step after the tables. */
  files?: FilesProgress;
}

export async function backupTenant(
  services: Services,
  request: TenantBackupRequest,
): Promise<TenantBackupResult> {
  const { db, config, log } = services;
  const lease =
    request.lease ??
    (request.captureId
      ? captureLease(request.tenantId)
      : await takeLease(services, request.tenantId, `backup:${request.type}`));
  let run: BackupRun | undefined;
  /** The moment this call reads the live tables at (direct path, until a copy is taken). */
  let held: HeldSnapshot | null = null;
  /** A table's source opened before its turn (see openAfter below). */
  const ahead: { opened: { table: string; source: Promise<RowSource> } | null } = { opened: null };
  try {
    const start = {
      tenantId: request.tenantId,
      date: request.date,
      type: request.type,
      logType: LOG_TYPE[request.type],
      createdBy: request.createdBy ?? null,
      note: request.note ?? null,
    };
    // What the tenant's earlier backups already stored (tenant files are stored there in either layout),
    // listed once per call, under the lease. Asked for now, beside the run's start, its moment and its first
    // tables, and waited for by the first chunk stored: a storage request takes longer than a statement. A
    // run that turns out to need no listing (one continued in the files layout, with no tenant files)
    // leaves it unread.
    const withFiles = config.files.buckets.length > 0;
    const listing =
      config.backup.layout === "chunks" || withFiles || request.captureId
        ? ChunkStore.open(services, request.tenantId)
        : null;
    const named = request.captureId ?? request.resumeBackupId;
    run = named ? await db.startRun({ ...start, backupId: named }) : await startNewRun(services, start);
    // A run continued by its id is the tenant's own (the database refuses a capture's id to another's).
    if (run.organization_id !== request.tenantId) {
      throw fail("internal", `the run ${run.backup_id} is not a run of ${request.tenantId}`);
    }
    const backupId = run.backup_id;
    const catalog = request.catalog ?? (await db.catalog());
    const fingerprint = schemaFingerprint(catalog);
    const saved = run.progress as Partial<RunProgress> | undefined;
    // Tables of an undo point that the apply left exactly as the restored backup has them: their entry is
    // that backup's (same chunks), so the undo point is chunked too.
    const reused = request.captureId
      ? (await db.undoReused(request.tenantId)).filter((r) => r.capture_id === request.captureId)
      : [];
    // A run started under another schema cannot be continued: its files would not match the manifest.
    // Who and why stay those of the run's first call, even when it starts over.
    const fresh = (): RunProgress => ({
      schema_fingerprint: fingerprint,
      started_at: services.now().toISOString(),
      layout: reused.length > 0 ? "chunks" : config.backup.layout,
      file_codec: "zstd",
      written_bytes: 0,
      created_by: saved?.created_by ?? request.createdBy ?? null,
      note: saved?.note ?? request.note ?? null,
      tables: {},
    });
    let progress: RunProgress =
      saved?.schema_fingerprint === fingerprint && saved.tables ? (saved as RunProgress) : fresh();
    // Runs saved before chunks existed wrote files; runs saved before zstd files wrote gzip.
    progress.layout ??= "files";
    progress.file_codec ??= "gzip";
    // The rules run before the tenant is read (an undo point is the tenant as it was: nothing to check).
    if (!request.captureId && request.type !== "pre_restore" && !progress.validation) {
      progress.validation = await checkBeforeBackup(services, request, catalog);
    }
    // An undo point's rows were captured by the restore's apply and stay put: read them, take no copy.
    if (!request.captureId) {
      if (progress.snapshot && !(await db.snapshotPresent(backupId))) {
        log.warn(
          { tenant: request.tenantId, backupId },
          "the backup's copy of the tenant is gone; starting over",
        );
        progress = fresh();
      }
      // Parts read at a moment that ended with its call (below) and no copy of it: start again, unless
      // every table was read (at that one moment) and only the files step is left.
      const tablesDone = catalog.tables.every((t) => progress.tables[t.name]?.done);
      if (!progress.snapshot && Object.keys(progress.tables).length > 0 && !tablesDone) progress = fresh();
      if (!progress.snapshot && !tablesDone) {
        // Direct: this call reads the live tables at one held moment, and copies only if it cannot finish.
        held = await db.holdSnapshot();
        if (!held) {
          progress.snapshot = await db.takeSnapshot({
            backupId,
            planId: catalog.plan_id,
            tenantId: request.tenantId,
          });
          await saveOrStop(services, lease, backupId, progress);
        }
      }
    }
    const moment = held;
    // Read at the held moment: every table's select, asked for once.
    const liveQueries = moment
      ? await db.liveQueries({
          planId: catalog.plan_id,
          tenantId: request.tenantId,
          tables: catalog.tables.map((t) => t.name).filter((name) => !progress.tables[name]?.done),
        })
      : null;
    const keepLease = renewer(services, () => lease.renew());
    const keepProgress = renewer(services, () => saveOrStop(services, lease, backupId, progress));
    const store =
      progress.layout === "chunks" || withFiles
        ? (listing ?? ChunkStore.open(services, request.tenantId))
        : null;
    const chunks = progress.layout === "chunks" ? store : null;

    for (const table of reused) {
      progress.tables[table.table] = { files: table.entry.files, after: null, done: true };
    }

    // Every call writes at least one part, so that repeated calls finish whatever the budget.
    let partsThisCall = 0;
    const bounds = chunkBounds(config.backup.chunkTargetBytes, config.backup.maxFileBytes);
    // Tables whose whole text is one small chunk, waiting to be stored as one chunk together: a chunk of
    // about the target size, and never past a chunk's most (within the storage's object limit).
    const small = chunks ? new SmallTables(Math.min(config.backup.chunkTargetBytes, bounds.max)) : null;
    /** Stores the waiting small tables; only then does the progress name them, as done. */
    const storeSmall = async () => {
      if (!small || !chunks || small.size === 0) return;
      const stored = await small.store(chunks);
      for (const [name, file] of stored.entries) {
        const state = progress.tables[name] as TableProgress;
        state.files = [file];
        state.after = file.last_key;
        state.done = true;
        checkCopied(progress, name, state);
      }
      partsThisCall += 1;
      progress.written_bytes = (progress.written_bytes ?? 0) + stored.written;
    };

    const open = (table: CatalogTable) => {
      const state = progress.tables[table.name] ?? { files: [], after: null, done: false };
      return openRowSource(db, {
        backupId,
        // Chunks hold rows as COPY writes them; table files of format 1 hold lines.
        rowsAs: progress.layout === "chunks" ? "copy" : "line",
        table: table.name,
        after: state.after,
        limit: config.backup.pageRows,
        live: moment && liveQueries ? { queries: liveQueries, snapshot: moment } : undefined,
        capture: request.captureId
          ? { id: request.captureId, table, rowsDone: state.files.reduce((n, f) => n + f.rows, 0) }
          : undefined,
      });
    };
    // The next table's source is opened once a table's rows are all read, while its last chunks are still
    // being stored: the next export starts meanwhile instead of after them.
    const openAfter = (index: number) => {
      const next = catalog.tables.slice(index + 1).find((t) => !progress.tables[t.name]?.done);
      if (!next) return;
      const source = open(next);
      // Awaited when its table comes: a failure is seen there (or the source closed if it never comes).
      source.catch(() => {});
      ahead.opened = { table: next.name, source };
    };
    for (const [index, table] of catalog.tables.entries()) {
      const state = progress.tables[table.name] ?? { files: [], after: null, done: false };
      progress.tables[table.name] = state;
      if (state.done) continue;
      const early = ahead.opened;
      ahead.opened = null;
      const source = await (early?.table === table.name ? early.source : open(table));
      const cutter = new ChunkCutter(bounds);
      // Only a table read from its first row may wait to share a chunk: its whole text is then in hand.
      let fromStart = state.files.length === 0;
      const queue = chunks
        ? new ChunkQueue(
            chunks,
            state.files.reduce((n, f) => n + f.rows, 0),
          )
        : null;
      const record = (next: { files: ManifestFile[]; written: number }) => {
        partsThisCall += next.files.length;
        state.files.push(...next.files);
        state.after = next.files.at(-1)?.last_key ?? state.after;
        progress.written_bytes = (progress.written_bytes ?? 0) + next.written;
      };
      try {
        while (!state.done) {
          // Chunks on their way, and small tables waiting, count as written: no new page once one is, and
          // the time is up.
          const started = partsThisCall + (queue?.waiting ?? 0) + (small?.size ?? 0);
          if (started > 0 && services.now().getTime() >= request.deadline) {
            // Chunks on their way are kept, and the small tables read are stored: the next call starts
            // after them.
            if (queue) record(storedOf(await queue.take(0)));
            await storeSmall();
            if (moment) {
              // The rest of the tenant, copied at this call's moment, for the next calls to read.
              progress.snapshot = await db.takeSnapshot({
                backupId,
                planId: catalog.plan_id,
                tenantId: request.tenantId,
                tables: catalog.tables.map((t) => t.name).filter((name) => !progress.tables[name]?.done),
                within: moment,
              });
              await moment.close(true);
              held = null;
            }
            await saveOrStop(services, lease, backupId, progress);
            log.info(
              { tenant: request.tenantId, backupId, table: table.name },
              "time budget reached; backup continues next call",
            );
            return incomplete(backupId, catalog, progress);
          }
          if (queue) {
            const offer =
              fromStart && small ? (text: RowsText) => small.offer(table.name, text, bounds.min) : undefined;
            fromStart = false;
            const next = await nextChunks(services, queue, cutter, source, () => openAfter(index), offer);
            record(next);
            // Read whole and waiting for the shared chunk: not done until that is stored.
            if (next.waiting) break;
            state.done = next.done;
          } else {
            const file = await writePart(
              services,
              request,
              backupId,
              table,
              source,
              state,
              progress.file_codec ?? "gzip",
            );
            partsThisCall += 1;
            state.files.push(file.manifestFile);
            state.after = file.manifestFile.last_key ?? state.after;
            state.done = file.done;
          }
          if (state.done) checkCopied(progress, table.name, state);
          // Read at this call's held moment, the parts are worth nothing to a later call (it starts over
          // without a copy): save nothing, only keep the lease. Read from the copy, save now and then.
          if (moment) await keepLease.maybe();
          else await keepProgress.maybe();
        }
      } finally {
        source.close();
        await queue?.settle();
      }
    }

    await storeSmall();
    // Every table is read: the moment's connections go back to the pool while the files and the summary
    // are stored, and its end overlaps theirs instead of waiting after them (the close below waits for it).
    void held?.close(false);

    if (store && withFiles) {
      progress.files ??= { objects: [], done: false };
      if (!progress.files.done) {
        const written = await backupFiles(services, store, request.tenantId, progress.files, {
          outOfTime: () => services.now().getTime() >= request.deadline,
          save: () => saveOrStop(services, lease, backupId, progress),
        });
        progress.written_bytes = (progress.written_bytes ?? 0) + written;
        if (!progress.files.done) {
          log.info({ tenant: request.tenantId, backupId }, "time budget reached; files continue next call");
          return incomplete(backupId, catalog, progress);
        }
      }
    }

    // Once per call: still ours (lease and run) before the summary names its chunks — a sweep waits on
    // the lease, and a run another operation ended stays ended — and every part read is saved.
    await saveOrStop(services, lease, backupId, progress);

    // Chunks reused from this call's listing, or stored by earlier calls of the run, must still be there.
    await store?.confirm([
      ...(chunks ? Object.values(progress.tables).flatMap((t) => t.files) : []),
      ...(progress.files?.objects ?? []).map((o) => ({ path: o.stored_as, bytes: o.bytes })),
    ]);
    const manifest = {
      ...buildManifest(services, request, backupId, catalog, progress),
      encryption: encryptionOf(services.storage),
    };
    const summary = summaryPath(request.tenantId, request.date, backupId);
    // Compact: a tenant keeps 30 or more summaries, and with chunks they are much of what a day stores.
    await services.storage.put(summary, Buffer.from(JSON.stringify(manifest)), "application/json");
    await db.finishRun({
      backupId,
      status: "completed",
      summaryPath: summary,
      records: manifest.total_records,
      bytes: manifest.total_bytes,
      tables: manifest.tables.length,
      error: null,
      details: {
        tables: Object.fromEntries(manifest.tables.map((t) => [t.name, t.row_count])),
        storage: services.storage.kind,
        ...(manifest.validation ? { validation: summaryOf(manifest.validation) } : {}),
      },
    });
    // Stored and recorded: the capture is no longer the only copy of the undo point.
    if (request.captureId) await db.clearUndo(request.captureId);
    else if (progress.snapshot) await dropSnapshot(services, backupId);
    return {
      status: "completed",
      backupId,
      summaryPath: summary,
      records: manifest.total_records,
      bytes: manifest.total_bytes,
      tables: manifest.tables.length,
      manifest,
    };
  } catch (err) {
    // Taken over: the run is another call's now (or already finished); marking it failed would undo its work.
    if (run && !isTakenOver(err)) {
      const backupId = run.backup_id;
      // Record the failure; if even that fails, the run stays "running" and the next call resumes it.
      await db
        .finishRun({
          backupId,
          status: "failed",
          summaryPath: null,
          records: 0,
          bytes: 0,
          tables: 0,
          error: errorMessage(err),
          details: { code: err instanceof AppError ? err.code : "internal" },
        })
        .catch((finishErr) => log.error({ err: finishErr, backupId }, "could not record the failed backup"));
      await dropSnapshot(services, backupId);
    }
    throw err;
  } finally {
    // Opened for a table this call did not reach (it stopped or failed first): its export is cancelled.
    ahead.opened?.source.then(
      (source) => source.close(),
      () => {},
    );
    await held?.close(false);
    // A caller that passed its lease in keeps it: it is still working on the tenant.
    if (!request.lease) await lease.release();
  }
}

/**
 * Starts the run of a new backup id (drawUnusedId). tenant_backup_run_start answers the run that has the
 * id when one does, instead of starting one: the run started is known by being this tenant's, of this
 * type, running, with no progress yet. A run another backup starts with the same id at the same moment
 * (the daily run backs up several tenants at once) is not yet there to be answered: the insert then fails
 * on the id, the call's statement is undone whole, and another id is drawn.
 */
function startNewRun(
  services: Services,
  start: Omit<Parameters<Services["db"]["startRun"]>[0], "backupId">,
): Promise<BackupRun> {
  return drawUnusedId(services, `a new backup of ${start.tenantId}`, async (backupId) => {
    let run: BackupRun;
    try {
      run = await services.db.startRun({ ...start, backupId });
    } catch (err) {
      if (err instanceof DatabaseError && err.sqlState === UNIQUE_VIOLATION) return null;
      throw err;
    }
    const progress = (run.progress ?? {}) as Record<string, unknown>;
    const started =
      run.status === "running" &&
      run.organization_id === start.tenantId &&
      run.backup_type === start.type &&
      Object.keys(progress).length === 0;
    return started ? run : null;
  });
}

/** PostgreSQL's SQLSTATE for a row whose key another row has. */
const UNIQUE_VIOLATION = "23505";

type FileCodec = "zstd" | "gzip";

/** What a format 1 table file of each codec is called, sent as, and its manifest's encoding. */
const FILES = {
  zstd: { suffix: ".jsonl.zst", contentType: "application/zstd", encoding: "jsonl-text-array+zstd" },
  gzip: { suffix: ".jsonl.gz", contentType: "application/gzip", encoding: "jsonl-text-array+gzip" },
} as const;

/** Saves the run's progress, while the run is still this call's (lease and run both). */
async function saveOrStop(services: Services, lease: Lease, backupId: string, progress: RunProgress) {
  // Still ours first: a call whose lease was taken over must not overwrite the new holder's progress. One
  // call renews the lease and saves only when that took. A capture has no lease of its own to renew.
  const saved =
    lease.holder === CAPTURE_HOLDER
      ? { lease: true, run: await services.db.saveProgress(backupId, progress) }
      : await services.db.saveProgressUnderLease(
          lease,
          services.config.backup.lockTtlSeconds,
          backupId,
          progress,
        );
  if (!saved.lease) throw leaseLost(lease.tenantId);
  if (!saved.run) {
    throw takenOver(`backup run ${backupId} is no longer running; another operation took over`);
  }
}

/**
 * Runs `renew` (which renews the lease) when a third of the lease's time has passed since it was taken or
 * last renewed, instead of after every part: a small tenant's run then writes its lease once, not once
 * per table.
 */
function renewer(services: Services, renew: () => Promise<void>) {
  const every = (services.config.backup.lockTtlSeconds * 1000) / 3;
  let last = services.now().getTime();
  return {
    async maybe() {
      if (services.now().getTime() - last < every) return;
      await renew();
      last = services.now().getTime();
    },
  };
}

/** Fails when a table read whole from the run's copy has not the rows the copy held. */
function checkCopied(progress: RunProgress, name: string, state: TableProgress): void {
  const copied = progress.snapshot?.rows[name];
  const written = state.files.reduce((n, f) => n + f.rows, 0);
  if (copied !== undefined && written !== copied) {
    // The copy changed under the run (emptied by a restart): this backup would not be one moment.
    throw fail(
      "unavailable",
      `${name}: ${written} rows read, the backup's copy held ${copied}; back up again`,
    );
  }
}

/** Frees the room the run's copy took; one left behind goes with the next copy taken once the run ended. */
async function dropSnapshot(services: Services, backupId: string): Promise<void> {
  await services.db
    .dropSnapshot(backupId)
    .catch((err) => services.log.warn({ err, backupId }, "could not drop the backup's copy of the tenant"));
}

const CAPTURE_HOLDER = "capture";

/** The hold a capture's export needs: none, since no other operation writes a captured undo point. */
function captureLease(tenantId: string): Lease {
  return { tenantId, holder: CAPTURE_HOLDER, async renew() {}, async release() {} };
}

/** Reads pages into one part until it is full, the table ends, or the time budget is spent; stores it. */
async function writePart(
  services: Services,
  request: TenantBackupRequest,
  backupId: string,
  table: CatalogTable,
  source: RowSource,
  state: TableProgress,
  codec: FileCodec,
): Promise<{ manifestFile: ManifestFile; done: boolean }> {
  const { maxFileBytes, gzipLevel } = services.config.backup;
  const writer = new PartWriter(codec === "zstd" ? zstdFileStream() : createGzip({ level: gzipLevel }));
  let after = state.after;
  let done = false;
  do {
    const page = await source.next(Math.max(1, Math.min(maxFileBytes - writer.rawBytes, 8 * 1024 * 1024)));
    await writer.write(page.text);
    if (page.last_key) after = page.last_key;
    done = page.done || page.text.rows === 0;
  } while (!done && writer.rawBytes < maxFileBytes && services.now().getTime() < request.deadline);

  const { data, sha256, bytes } = await writer.finish();
  const path = filePath(
    request.tenantId,
    request.date,
    backupId,
    table.name,
    state.files.length,
    FILES[codec].suffix,
  );
  await services.storage.put(path, data, FILES[codec].contentType);
  return { manifestFile: { path, rows: writer.rows, bytes, sha256, last_key: after }, done };
}

/**
 * Chunks left on their way while the next ones' rows are read: four, so that reading, compressing and
 * uploading overlap and the rows are not kept waiting on one upload (to a storage far away an upload is
 * mostly waiting), while a call still notices its time budget within a few chunks of it.
 */
const CHUNKS_IN_FLIGHT = 4;
/**
 * And at most this much row text: a chunk of one row holding MBs is stored before the next rows are read,
 * so that a backup never holds two such rows at once (peak memory, not speed, is what they cost).
 */
const BYTES_IN_FLIGHT = 4 * 1024 * 1024;

/**
 * A table's chunks on their way to storage, in the table's order. Each is compressed (on libuv's thread
 * pool) and uploaded while the next rows are read and cut, so the database, the main thread and the
 * compression work side by side; only chunks stored, oldest first, are handed back to the manifest.
 */
class ChunkQueue {
  private readonly queue: { bytes: number; stored: Promise<StoredChunk> }[] = [];
  /** Row text of the chunks on their way. */
  private bytes = 0;
  private rows: number;

  constructor(
    private readonly store: ChunkStore,
    rowsBefore: number,
  ) {
    this.rows = rowsBefore;
  }

  /** Chunks on their way, not yet handed back. */
  get waiting(): number {
    return this.queue.length;
  }

  add(text: RowsText): void {
    const stored = this.store.store(text, this.rows);
    // Awaited in order by take(); a failure seen there, not as an unhandled rejection meanwhile.
    stored.catch(() => {});
    this.queue.push({ bytes: text.bytes, stored });
    this.bytes += text.bytes;
    this.rows += text.rows;
  }

  /**
   * The stored chunks, oldest first, once at most `pending` are left on their way, holding at most
   * BYTES_IN_FLIGHT of row text.
   */
  async take(pending: number): Promise<StoredChunk[]> {
    const stored: StoredChunk[] = [];
    while (this.queue.length > pending || (this.queue.length > 0 && this.bytes > BYTES_IN_FLIGHT)) {
      const next = this.queue.shift() as (typeof this.queue)[0];
      stored.push(await next.stored);
      this.bytes -= next.bytes;
    }
    return stored;
  }

  /** Waits for every chunk on its way, whatever becomes of them (a failed call leaves nothing running). */
  async settle(): Promise<void> {
    await Promise.allSettled(this.queue.map((q) => q.stored));
  }
}

/**
 * Reads pages into the cutter until it finishes at least one chunk, or the table ends (its last rows are a
 * chunk of their own, and `allRead` is told first); queues what it finished, and answers the chunks stored
 * meanwhile (all of them at the table's end). When the table ended with nothing cut, its last chunk is its
 * whole text: `offer` (the small tables' shared chunk) may take it instead, and the answer is then
 * `waiting`, with nothing stored.
 * Rows read past the last stored chunk stay in the cutter or the queue; a call that stops keeps what is
 * stored, and the next call reads the rest again from the last stored chunk's row count (its last_key,
 * where the source starts).
 */
async function nextChunks(
  services: Services,
  queue: ChunkQueue,
  cutter: ChunkCutter,
  source: RowSource,
  allRead: () => void,
  offer?: (text: RowsText) => boolean,
): Promise<{ files: ManifestFile[]; written: number; done: boolean; waiting?: boolean }> {
  // A stream is read a chunk's worth at a time; through the Supabase API each page is a request, so pages
  // are as large as BACKUP_PAGE_BYTES allows.
  const { chunkTargetBytes, pageBytes: apiPageBytes } = services.config.backup;
  const pageBytes = services.db.canStream ? chunkTargetBytes : apiPageBytes;
  let finished: RowsText[] = [];
  let done = false;
  while (finished.length === 0 && !done) {
    const page = await source.next(pageBytes);
    finished = cutter.push(page.text.parts);
    done = page.done || page.text.rows === 0;
  }
  if (done) {
    allRead();
    const last = cutter.flush();
    if (last && finished.length === 0 && offer?.(last)) {
      return { files: [], written: 0, done: true, waiting: true };
    }
    if (last) finished.push(last);
  }
  for (const text of finished) queue.add(text);
  return { ...storedOf(await queue.take(done ? 0 : CHUNKS_IN_FLIGHT)), done };
}

function storedOf(stored: StoredChunk[]): { files: ManifestFile[]; written: number } {
  return { files: stored.map((s) => s.file), written: stored.reduce((n, s) => n + s.written, 0) };
}

/** Of the objects `files` name, each once (small tables share one). */
function bytesOf(files: ManifestFile[]): number {
  return distinctObjects(files).reduce((n, f) => n + f.bytes, 0);
}

function incomplete(backupId: string, catalog: Catalog, progress: RunProgress): TenantBackupResult {
  const states = Object.values(progress.tables);
  return {
    status: "incomplete",
    backupId,
    records: states.reduce((sum, s) => sum + s.files.reduce((n, f) => n + f.rows, 0), 0),
    bytes: bytesOf(states.flatMap((s) => s.files)),
    tablesDone: states.filter((s) => s.done).length,
    tables: catalog.tables.length,
  };
}

function buildManifest(
  services: Services,
  request: TenantBackupRequest,
  backupId: string,
  catalog: Catalog,
  progress: RunProgress,
): Manifest {
  const now = services.now();
  const files = progress.files ? filesSection(services, request.tenantId, progress.files) : undefined;
  const warnings: string[] = [];
  if (catalog.cycle)
    warnings.push("foreign keys between tenant tables form a cycle; restore order is best effort");
  const tables: ManifestTable[] = catalog.tables.map((table, order) => {
    const files = progress.tables[table.name]?.files ?? [];
    if (!table.primary_key) warnings.push(`${table.name} has no primary key: read in physical order`);
    if (table.parent?.nullable) {
      warnings.push(
        `${table.name} reaches its tenant through nullable ${table.parent.constraint}: rows with NULL there belong to no tenant`,
      );
    }
    return {
      name: table.name,
      order,
      anchor: table.anchor,
      primary_key: table.primary_key,
      columns: storedColumns(table).map(({ name, type, not_null, identity }) => ({
        name,
        type,
        not_null,
        identity,
      })),
      generated_columns: table.columns.filter((c) => c.generated).map((c) => c.name),
      row_count: files.reduce((n, f) => n + f.rows, 0),
      bytes: files.reduce((n, f) => n + f.bytes, 0),
      files,
    };
  });
  const common = {
    format: FORMAT,
    backup_id: backupId,
    backup_type: request.type,
    backup_date: request.date,
    organization_id: request.tenantId,
    organization_name: request.tenantName,
    started_at: progress.started_at,
    completed_at: now.toISOString(),
    tenant: { root_table: catalog.root, key: catalog.key, schema: catalog.schema },
    schema_fingerprint: progress.schema_fingerprint,
    tables,
    ...(files ? { files } : {}),
    total_records: tables.reduce((n, t) => n + t.row_count, 0),
    total_bytes: bytesOf(tables.flatMap((t) => t.files)) + (files?.bytes ?? 0),
    created_by: progress.created_by ?? request.createdBy ?? null,
    note: progress.note ?? request.note ?? null,
    warnings,
    ...(progress.validation ? { validation: progress.validation } : {}),
  };
  return progress.layout === "chunks"
    ? {
        ...common,
        format_version: FORMAT_VERSION,
        encoding: "copy-text+zstd-chunks",
        written_bytes: progress.written_bytes ?? 0,
      }
    : {
        ...common,
        format_version: FILES_FORMAT_VERSION,
        encoding: FILES[progress.file_codec ?? "gzip"].encoding,
      };
}

/**
 * Checks the tenant against the enabled rules before its rows are read; answers what the manifest keeps
 * (undefined when there are no rules). Bad data is recorded, and stops the backup only when
 * VALIDATION_BLOCKS_BACKUP is on and the request does not override it (422, nothing written).
 */
async function checkBeforeBackup(
  services: Services,
  request: TenantBackupRequest,
  catalog: Catalog,
): Promise<ManifestValidation | undefined> {
  const report = await validateTenant(services, request.tenantId, {
    catalog,
    deadline: request.deadline,
    rules: request.rules,
  });
  if (report.summary.rules === 0) return undefined;
  const { summary } = report;
  if (summary.violations > 0 && services.config.validation.blocksBackup && !request.ignoreValidation) {
    throw fail(
      "unprocessable",
      `${summary.violations} rows break ${summary.failed} validation rules, and VALIDATION_BLOCKS_BACKUP is on: ` +
        "fix them (validate-tenant-data lists them) or back up with ignore_validation: true",
      { validation: summary },
    );
  }
  return {
    ...summary,
    results: report.results
      .filter((r) => r.violations !== 0)
      .map(({ rule_id, table, column, kind, violations, sample_keys, message }) => ({
        rule_id,
        table,
        column,
        kind,
        violations,
        sample_keys,
        message,
      })),
  };
}

function summaryOf(validation: ManifestValidation) {
  const { results: _results, ...summary } = validation;
  return summary;
}
