/**
 * The files step of a tenant's backup: every object in the tenant's folder of each TENANT_FILE_BUCKETS
 * bucket, copied into the tenant's chunk folder under the keyed hash of its bytes (so a file unchanged
 * since any earlier backup costs a download but no upload), with its content type and cache control.
 *
 * A file whose listing shows the same version (Supabase: update time and ETag), size and metadata as in
 * the tenant's newest backup is not even downloaded: that backup's entry is reused, its copy being still
 * stored. Otherwise one file is held in memory at a time (a Storage object is at most the bucket's limit,
 * 50 MB on the Free plan). The step is resumable like the tables: it records each file in the run's progress, stops
 * at the time budget after at least one file, and the next call skips what is recorded.
 */
import { createHash } from "node:crypto";
import { inventoryOf } from "../backup/inventory.ts";
import type { ManifestFiles, ManifestTenantFile } from "../backup/manifest.ts";
import { tenantPrefix } from "../backup/paths.ts";
import { readManifest } from "../backup/reader.ts";
import type { ChunkStore } from "../chunks/store.ts";
import type { Services } from "../services.ts";
import { StorageError } from "../storage/port.ts";
import { isInsidePrefix, tenantFilePrefix } from "./buckets.ts";

export interface FilesProgress {
  objects: ManifestTenantFile[];
  done: boolean;
}

/** Progress is saved after this many files, so that a killed call repeats few downloads. */
const SAVE_EVERY = 20;

export interface FilesStepOptions {
  /** True once the call's time budget is spent. */
  outOfTime: () => boolean;
  /** Saves the run's progress (which holds `progress`). */
  save: () => Promise<void>;
}

/** Goes on with the files step; answers the bytes it uploaded. `progress.done` says whether it finished. */
export async function backupFiles(
  services: Services,
  store: ChunkStore,
  tenantId: string,
  progress: FilesProgress,
  options: FilesStepOptions,
): Promise<number> {
  const recorded = new Set(progress.objects.map((o) => `${o.bucket}\n${o.path}`));
  const previous = await newestFiles(services, tenantId);
  let written = 0;
  let handled = 0;
  for (const bucket of services.config.files.buckets) {
    const prefix = tenantFilePrefix(bucket, tenantId);
    const files = services.files.bucket(bucket.bucket);
    for (const listed of await files.list(prefix)) {
      // A listing is matched case-insensitively with wildcards on Supabase; only the exact folder counts.
      if (!isInsidePrefix(prefix, listed.path) || recorded.has(`${bucket.bucket}\n${listed.path}`)) continue;
      if (handled > 0 && options.outOfTime()) {
        await options.save();
        return written;
      }
      const before = previous.get(`${bucket.bucket}\n${listed.path}`);
      if (
        before &&
        listed.version !== null &&
        before.version === listed.version &&
        before.bytes === listed.size &&
        before.content_type === listed.contentType &&
        before.cache_control === listed.cacheControl &&
        (await store.holds(before.stored_as, before.bytes))
      ) {
        progress.objects.push(before);
        continue;
      }
      let data: Uint8Array;
      try {
        data = await files.get(listed.path);
      } catch (err) {
        // Deleted since the listing: it is not part of the tenant any more.
        if (err instanceof StorageError && err.code === "not_found") continue;
        throw err;
      }
      const stored = await store.storeFile(data);
      written += stored.written;
      progress.objects.push({
        bucket: bucket.bucket,
        path: listed.path,
        bytes: data.byteLength,
        sha256: createHash("sha256").update(data).digest("hex"),
        content_type: listed.contentType,
        cache_control: listed.cacheControl,
        stored_as: stored.path,
        version: listed.version,
      });
      handled += 1;
      if (handled % SAVE_EVERY === 0) await options.save();
    }
  }
  progress.done = true;
  return written;
}

/** The manifest's files section of a finished step. */
export function filesSection(services: Services, tenantId: string, progress: FilesProgress): ManifestFiles {
  return {
    buckets: services.config.files.buckets.map((b) => ({
      bucket: b.bucket,
      prefix: tenantFilePrefix(b, tenantId),
    })),
    objects: progress.objects,
    bytes: progress.objects.reduce((n, o) => n + o.bytes, 0),
  };
}

/**
 * The files of the tenant's newest backup, by bucket and path; empty when there is none or it cannot be
 * read (then every file is read, as on a first backup).
 */
async function newestFiles(services: Services, tenantId: string): Promise<Map<string, ManifestTenantFile>> {
  try {
    const newest = inventoryOf(tenantId, await services.storage.list(tenantPrefix(tenantId))).backups[0];
    const manifest = newest ? await readManifest(services.storage, newest.summaryPath) : undefined;
    return new Map((manifest?.files?.objects ?? []).map((o) => [`${o.bucket}\n${o.path}`, o]));
  } catch (err) {
    services.log.warn({ err, tenant: tenantId }, "newest backup unreadable; every file is read");
    return new Map();
  }
}
