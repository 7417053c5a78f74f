/**
 * Mark and sweep of a tenant's chunks: a chunk is deleted only when no backup the tenant keeps names it.
 *
 * Mark: one listing of the tenant's folder, then every summary in it is read (any that cannot be read
 * stops the sweep with nothing deleted: what it names is unknown), and the progress of every run of the
 * tenant still marked running (a backup cut by its time budget names, in its saved progress, each chunk
 * it stored or reused so far: it registers them before its summary exists), and the restored backups'
 * entries that undo points captured by restores, not stored yet, name (read before the listing, so that
 * one stored meanwhile is in the listing as its summary). Sweep: the listed chunks that none of those
 * name, removed in batches.
 *
 * Why nothing kept is lost:
 * - The caller holds the tenant's lease, which every backup holds while it works, and it is renewed before
 *   each batch: a backup cannot list or reuse a chunk between this sweep's mark and its deletions. A
 *   backup whose lease ran out and was taken by the sweep stops at its next progress save (409), before
 *   any summary; and a backup confirms, under its lease, that every chunk it names is stored before it
 *   writes its summary (lib/chunks/store.ts).
 * - Chunks stored after the mark's listing are not in it, so they are never candidates.
 * - Killed half way, a sweep has deleted only chunks nothing named; the next sweep finds the rest.
 *
 * The off-site copy runs the same sweep with `services.storage` set to the off-site storage, under the
 * same lease (lib/offsite/copy.ts): there only the off-site summaries (and running runs) count.
 */
import { inventoryOf } from "../backup/inventory.ts";
import { tenantPrefix } from "../backup/paths.ts";
import { readManifest } from "../backup/reader.ts";
import { fail, isAppError } from "../errors.ts";
import type { Lease } from "../lease.ts";
import type { Services } from "../services.ts";
import { isTenantChunkPath, isTenantFileBlobPath } from "./paths.ts";

/** Supabase Storage's remove() takes at most 1,000 paths. */
const REMOVE_BATCH = 1000;
const READ_CONCURRENCY = 8;

export interface ChunkSweep {
  /** Chunks stored for the tenant when the sweep listed them. */
  stored: number;
  /** Of those, the ones no kept backup or running run names: deleted, or (dry run) to be deleted. */
  unreferenced: number;
  unreferenced_bytes: number;
  deleted: number;
}

export interface SweepOptions {
  dryRun: boolean;
  /** Held by the caller; renewed before each batch. Absent only in a dry run. */
  lease?: Lease;
  /** Only these summaries count as kept (a dry run's plan); absent: every summary stored. */
  keep?: ReadonlySet<string>;
}

export async function sweepChunks(
  services: Services,
  tenantId: string,
  options: SweepOptions,
): Promise<ChunkSweep> {
  const { storage, db } = services;
  if (!options.dryRun && !options.lease)
    throw new Error("a chunk sweep that deletes needs the tenant's lease");
  // Before the listing: an undo point stored after this read is in the listing, as its summary.
  const capturedUndo = await db.undoReused(tenantId);
  const objects = await storage.list(tenantPrefix(tenantId));
  const chunks = objects.filter(
    (o) => isTenantChunkPath(tenantId, o.path) || isTenantFileBlobPath(tenantId, o.path),
  );
  const result: ChunkSweep = { stored: chunks.length, unreferenced: 0, unreferenced_bytes: 0, deleted: 0 };
  if (chunks.length === 0) return result;

  const named = new Set<string>();
  const summaries = inventoryOf(tenantId, objects)
    .backups.map((b) => b.summaryPath)
    .filter((path) => !options.keep || options.keep.has(path));
  for (let i = 0; i < summaries.length; i += READ_CONCURRENCY) {
    const manifests = await Promise.all(
      summaries.slice(i, i + READ_CONCURRENCY).map((path) =>
        readManifest(storage, path).catch((err) => {
          if (!isAppError(err)) throw err;
          throw fail(
            "unprocessable",
            `chunk sweep of ${tenantId} stopped, nothing deleted: summary ${path} cannot be read (${err.message})`,
            { file: path },
          );
        }),
      ),
    );
    for (const manifest of manifests) {
      for (const table of manifest.tables) for (const file of table.files) named.add(file.path);
      for (const file of manifest.files?.objects ?? []) named.add(file.stored_as);
    }
  }
  // Undo points captured by restores but not stored yet may name a restored backup's chunks.
  for (const table of capturedUndo) for (const file of table.entry.files) named.add(file.path);
  for (const run of await db.runningRuns(tenantId)) {
    for (const path of filesOfProgress(run.progress)) named.add(path);
  }

  const unreferenced = chunks.filter((c) => !named.has(c.path));
  result.unreferenced = unreferenced.length;
  result.unreferenced_bytes = unreferenced.reduce((n, c) => n + c.size, 0);
  if (options.dryRun) return result;
  for (let i = 0; i < unreferenced.length; i += REMOVE_BATCH) {
    await options.lease?.renew();
    const batch = unreferenced.slice(i, i + REMOVE_BATCH).map((c) => c.path);
    await storage.remove(batch);
    result.deleted += batch.length;
  }
  return result;
}

/** The file, chunk and tenant-file paths a running backup's saved progress names (lib/backup/tenant-backup.ts). */
function filesOfProgress(progress: unknown): string[] {
  const saved = progress as {
    tables?: Record<string, { files?: { path?: unknown }[] }>;
    files?: { objects?: { stored_as?: unknown }[] };
  } | null;
  const tables = saved?.tables && typeof saved.tables === "object" ? Object.values(saved.tables) : [];
  const paths = [
    ...tables.flatMap((t) => (t?.files ?? []).map((f) => f?.path)),
    ...(Array.isArray(saved?.files?.objects) ? saved.files.objects.map((o) => o?.stored_as) : []),
  ];
  return paths.filter((p): p is string => typeof p === "string");
}
