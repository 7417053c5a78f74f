/**
 * The files step of a restore: puts the tenant's files in each bucket back as the backup holds them.
 *
 * The plan compares, in each bucket the backup holds files of, the backup's objects with what the tenant's
 * folder holds now: a path only in the backup is added, one only in the bucket removed, one in both
 * replaced when its size, content type, cache control or (same size) SHA-256 differs. The real step
 * uploads through the Storage API (upsert, with the metadata) and deletes with its remove(), never by
 * touching storage.objects. Every path is checked to lie in the tenant's folder under the current
 * TENANT_FILE_BUCKETS before anything is written or removed: no other tenant's file is ever reached.
 *
 * A run cut short leaves some files done and some not; running it again plans only what still differs,
 * so a re-run finishes the job and a finished one changes nothing.
 */
import { createHash } from "node:crypto";
import type { FileChange, FilesRestoreReport } from "../api-answers.ts";
import type { Manifest, ManifestTenantFile } from "../backup/manifest.ts";
import { missingFile, whenMissing } from "../backup/reader.ts";
import { chunksPrefix } from "../chunks/paths.ts";
import { isStoredSizeOf } from "../crypto/encrypting-storage.ts";
import { errorMessage, fail } from "../errors.ts";
import type { Services } from "../services.ts";
import { isInsidePrefix, tenantFilePrefix } from "./buckets.ts";
import type { FileBucketStore, TenantFile } from "./port.ts";

export type FilesOption = boolean | "only";
export type { FilesRestoreReport };

interface BucketPlan {
  store: FileBucketStore;
  prefix: string;
  changes: (FileChange & { source?: ManifestTenantFile })[];
  unchanged: number;
}

/** Storage gives back a cache control only in supabase-js's `max-age=<seconds>` form. */
function sameCacheControl(backup: string | null, now: string | null): boolean {
  return backup === null || !/^max-age=\d+$/.test(backup) || backup === now;
}

async function planBucket(
  services: Services,
  tenantId: string,
  bucket: string,
  prefix: string,
  objects: ManifestTenantFile[],
): Promise<BucketPlan> {
  const store = services.files.bucket(bucket);
  const current = new Map<string, TenantFile>();
  for (const file of await store.list(prefix)) {
    if (isInsidePrefix(prefix, file.path)) current.set(file.path, file);
  }
  const plan: BucketPlan = { store, prefix, changes: [], unchanged: 0 };
  for (const object of objects) {
    if (!isInsidePrefix(prefix, object.path)) {
      throw fail("unprocessable", `${bucket}/${object.path} is outside the folder of ${tenantId}`);
    }
    const now = current.get(object.path);
    current.delete(object.path);
    const change = { bucket, path: object.path, bytes: object.bytes, source: object };
    if (!now) {
      plan.changes.push({ ...change, action: "add" });
    } else if (
      now.size !== object.bytes ||
      now.contentType !== object.content_type ||
      !sameCacheControl(object.cache_control, now.cacheControl) ||
      // Not written since the backup read it (the listing's version says so): equal without a download.
      ((now.version === null || now.version !== object.version) &&
        createHash("sha256")
          .update(await store.get(object.path))
          .digest("hex") !== object.sha256)
    ) {
      plan.changes.push({ ...change, action: "replace" });
    } else {
      plan.unchanged += 1;
    }
  }
  for (const extra of current.values()) {
    plan.changes.push({ bucket, path: extra.path, bytes: extra.size, action: "remove" });
  }
  return plan;
}

/** The plan of every bucket the backup holds files of and TENANT_FILE_BUCKETS still names alike. */
async function planFiles(
  services: Services,
  manifest: Manifest,
  tenantId: string,
): Promise<{ plans: BucketPlan[]; warnings: string[] }> {
  const warnings: string[] = [];
  const plans: BucketPlan[] = [];
  for (const held of manifest.files?.buckets ?? []) {
    const configured = services.config.files.buckets.find((b) => b.bucket === held.bucket);
    const prefix = configured ? tenantFilePrefix(configured, tenantId) : undefined;
    if (prefix === undefined || prefix !== held.prefix) {
      warnings.push(
        `files of bucket ${held.bucket} were left alone: TENANT_FILE_BUCKETS no longer names ${held.prefix} as the tenant's folder there`,
      );
      continue;
    }
    const objects = (manifest.files?.objects ?? []).filter((o) => o.bucket === held.bucket);
    plans.push(await planBucket(services, tenantId, held.bucket, prefix, objects));
  }
  return { plans, warnings };
}

/** Supabase Storage's remove() takes at most 1,000 paths. */
const REMOVE_BATCH = 1000;

/** Plans (dry run) or makes the file changes that bring the tenant's folders back to the backup. */
export async function restoreFiles(
  services: Services,
  manifest: Manifest,
  tenantId: string,
  dryRun: boolean,
  /** Keeps the tenant's lease alive; called between files. */
  renew: () => Promise<void>,
): Promise<FilesRestoreReport> {
  const { plans, warnings } = await planFiles(services, manifest, tenantId);
  const changes = plans.flatMap((p) => p.changes);
  const report: FilesRestoreReport = {
    dry_run: dryRun,
    success: true,
    changes: changes.map(({ source: _source, ...change }) => change),
    added: changes.filter((c) => c.action === "add").length,
    replaced: changes.filter((c) => c.action === "replace").length,
    removed: changes.filter((c) => c.action === "remove").length,
    unchanged: plans.reduce((n, p) => n + p.unchanged, 0),
    error: null,
    warnings,
  };
  if (dryRun || changes.length === 0) return report;
  try {
    await applyPlans(services, tenantId, plans, changes, renew);
  } catch (err) {
    report.success = false;
    report.error = errorMessage(err);
  }
  return report;
}

async function applyPlans(
  services: Services,
  tenantId: string,
  plans: BucketPlan[],
  changes: BucketPlan["changes"],
  renew: () => Promise<void>,
): Promise<void> {
  // Every copy the plan needs must be stored before the first file changes.
  const stored = new Map(
    (await services.storage.list(chunksPrefix(tenantId))).map((o) => [o.path, o.size] as const),
  );
  for (const change of changes) {
    if (change.source && !isStoredSizeOf(stored.get(change.source.stored_as), change.source.bytes)) {
      throw missingFile(change.source.stored_as);
    }
  }
  for (const plan of plans) {
    for (const change of plan.changes) {
      if (!change.source) continue;
      const source = change.source;
      await renew();
      const data = await whenMissing(services.storage.get(source.stored_as), () =>
        missingFile(source.stored_as),
      );
      if (createHash("sha256").update(data).digest("hex") !== source.sha256) {
        throw fail(
          "unprocessable",
          `backup file ${source.stored_as} is damaged: its checksum does not match the summary`,
          { file: source.stored_as },
        );
      }
      // Checked again at the write: the plan's paths come from a manifest, the folder from the config.
      assertInside(plan.prefix, change.path);
      await plan.store.put(change.path, data, {
        contentType: source.content_type,
        cacheControl: source.cache_control,
      });
    }
    const removals = plan.changes.filter((c) => c.action === "remove").map((c) => c.path);
    for (const path of removals) assertInside(plan.prefix, path);
    for (let i = 0; i < removals.length; i += REMOVE_BATCH) {
      await renew();
      await plan.store.remove(removals.slice(i, i + REMOVE_BATCH));
    }
  }
}

function assertInside(prefix: string, path: string): void {
  if (!isInsidePrefix(prefix, path)) throw new Error(`refusing to write ${path} outside ${prefix}`);
}
