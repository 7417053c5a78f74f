/**
 * The off-site copy: brings the S3 copy target up to date with the primary storage, within one call's
 * time budget, and applies the off-site retention. Resumable: a call copies what is missing and stops
 * starting new files at the deadline; the next call goes on where it stopped (an object already off-site is
 * checked, not sent again). A backup exists off-site once its summary is there, and the summary is written
 * last, after every file it lists has been verified, so a copy cut short is never taken for a backup.
 *
 * Every object is read from the primary through its decryption, checked against the summary's SHA-256,
 * written off-site through the same encryption (so with BACKUP_ENCRYPTION_KEY set the copy is encrypted
 * with it, whatever the primary object was), then read back from the copy target and checked again.
 *
 * After retention, each tenant's off-site chunks and file copies that no off-site summary names are swept
 * (lib/chunks/sweep.ts, run against the off-site storage). Why a copy in progress never loses one:
 * - A tenant is copied, and its off-site retention and sweep run, only under the tenant's own lease
 *   (operation "offsite-copy"), the same lease every backup and restore holds: another offsite-copy call,
 *   and a restore from off-site writing its undo point there, never work on that tenant meanwhile. The
 *   copy lists what is off-site for the tenant under the lease, so nothing it found there and reuses can go
 *   before its summary is written. A grace period on the objects' age would not do: a copy reuses chunks
 *   that are old and already off-site.
 * - A tenant whose copy did not finish in this call (out of time, or busy) is not swept: the chunks its
 *   copy has uploaded so far, whose summary is still to come, stay for the next call to complete.
 */
import { createHash } from "node:crypto";
import {
  filesPrefix,
  inventoriesFrom,
  inventoriesOfAll,
  inventoryOf,
  type TenantInventory,
} from "../backup/inventory.ts";
import { distinctObjects, type Manifest } from "../backup/manifest.ts";
import { ROOT, tenantPrefix } from "../backup/paths.ts";
import { readManifest } from "../backup/reader.ts";
import { decompressChunk } from "../chunks/codec.ts";
import { isChunkPath, isFileBlobPath } from "../chunks/paths.ts";
import { sweepChunks } from "../chunks/sweep.ts";
import { AppError, errorMessage, fail } from "../errors.ts";
import { isTakenOver, type Lease, tryLease } from "../lease.ts";
import type { Services } from "../services.ts";
import type { BackupStorage } from "../storage/port.ts";
import { utcDay } from "../time.ts";
import { expiredOffsite, offsiteCutoff, weeklyCandidates } from "./plan.ts";

export interface OffsiteBackup {
  organization_id: string;
  backup_id: string;
  backup_date: string;
}

export interface OffsiteResult {
  /** False when the time budget ran out first: call again. */
  complete: boolean;
  copied: (OffsiteBackup & { objects: number; bytes: number })[];
  /** Weekly backups that were off-site already. */
  present: number;
  removed: OffsiteBackup[];
  /** Off-site chunks and file copies that no off-site backup named any more, deleted. */
  chunks_removed: number;
  chunk_bytes_removed: number;
  failed: (OffsiteBackup & { error: string })[];
  /** Tenants whose off-site sweep stopped, nothing deleted (a summary that cannot be read). */
  sweep_failed: { organization_id: string; error: string }[];
  /** Tenants left for the next call because another operation held them. */
  busy: { organization_id: string; operation: string }[];
}

const LEASE_OPERATION = "offsite-copy";

/** The off-site storage, or 400 naming what to set when none is configured. */
export function requireOffsite(services: Services, field?: string): BackupStorage {
  if (services.offsite) return services.offsite;
  throw fail("bad_request", "no off-site copy is configured: set OFFSITE_S3_BUCKET and its credentials", {
    ...(field ? { field } : {}),
    variable: "OFFSITE_S3_BUCKET",
  });
}

export async function syncOffsite(services: Services, options: { deadline: number }): Promise<OffsiteResult> {
  const offsite = requireOffsite(services);
  const retentionDays = services.config.offsite?.retentionDays ?? 90;
  const cutoff = offsiteCutoff(utcDay(services.now()), retentionDays);
  const result: OffsiteResult = {
    complete: true,
    copied: [],
    present: 0,
    removed: [],
    chunks_removed: 0,
    chunk_bytes_removed: 0,
    failed: [],
    sweep_failed: [],
    busy: [],
  };
  const remoteObjects = await offsite.list(`${ROOT}/`);
  /** Tenants whose copy this call did not finish: not swept. */
  const unfinished = new Set<string>();
  let outOfTime = false;

  for (const tenant of await inventoriesOfAll(services)) {
    const weeks = weeklyCandidates(tenant.backups, cutoff);
    if (weeks.length === 0) continue;
    if (outOfTime) {
      unfinished.add(tenant.tenantId);
      continue;
    }
    const lease = await leaseOf(services, tenant.tenantId, result);
    if (!lease) {
      unfinished.add(tenant.tenantId);
      continue;
    }
    try {
      if (!(await copyTenant(services, offsite, tenant, weeks, lease, result, options))) {
        outOfTime = true;
        result.complete = false;
        unfinished.add(tenant.tenantId);
      }
    } finally {
      await lease.release();
    }
  }
  await removeExpired(services, offsite, inventoriesFrom(remoteObjects), cutoff, unfinished, result);
  return result;
}

/** The tenant's lease, or null (noted in `busy`, the call incomplete) when another operation holds it. */
async function leaseOf(services: Services, tenantId: string, result: OffsiteResult): Promise<Lease | null> {
  const taken = await tryLease(services, tenantId, LEASE_OPERATION);
  if ("lease" in taken) return taken.lease;
  if (!result.busy.some((b) => b.organization_id === tenantId)) {
    result.busy.push({ organization_id: tenantId, operation: taken.busy.operation });
  }
  result.complete = false;
  return null;
}

/** Copies a tenant's weekly backups that are not off-site, under its lease. False: out of time. */
async function copyTenant(
  services: Services,
  offsite: BackupStorage,
  tenant: TenantInventory,
  weeks: TenantInventory["backups"][],
  lease: Lease,
  result: OffsiteResult,
  options: { deadline: number },
): Promise<boolean> {
  // Listed under the lease: what is found here stays until the lease is given back.
  const remotePaths = new Set((await offsite.list(tenantPrefix(tenant.tenantId))).map((o) => o.path));
  for (const week of weeks) {
    if (week.some((backup) => remotePaths.has(backup.summaryPath))) {
      result.present += 1;
      continue;
    }
    for (const backup of week) {
      const about = {
        organization_id: tenant.tenantId,
        backup_id: backup.backupId,
        backup_date: backup.date,
      };
      if (services.now().getTime() >= options.deadline) return false;
      // A lease lost (409) stops the call: another operation has the tenant now.
      await lease.renew();
      try {
        const manifest = await readManifest(services.storage, backup.summaryPath);
        // Undo points are the primary's business; the week's first real backup is the one to copy.
        if (manifest.backup_type === "pre_restore") continue;
        const copied = await copyBackup(
          services,
          offsite,
          manifest,
          backup.summaryPath,
          remotePaths,
          lease,
          options,
        );
        if (!copied) return false;
        result.copied.push({ ...about, ...copied });
        services.log.info(
          { tenant: tenant.tenantId, backupId: backup.backupId, ...copied },
          "copied off-site",
        );
      } catch (err) {
        if (isTakenOver(err)) throw err;
        services.log.error(
          { err, tenant: tenant.tenantId, backupId: backup.backupId },
          "off-site copy failed",
        );
        result.failed.push({ ...about, error: errorMessage(err) });
      }
      break;
    }
  }
  return true;
}

/**
 * Copies one backup: its files, then its summary. Answers what it wrote, or null when the deadline came
 * first (the files copied so far stay, and the next call checks and keeps them).
 */
async function copyBackup(
  services: Services,
  offsite: BackupStorage,
  manifest: Manifest,
  summaryPath: string,
  remotePaths: Set<string>,
  lease: Lease,
  options: { deadline: number },
): Promise<{ objects: number; bytes: number } | null> {
  let objects = 0;
  let bytes = 0;
  // The tenant's uploaded files are copied too: a restore from off-site brings them back with the rows.
  // Each object once: small tables share one chunk.
  const sources = distinctObjects([
    ...manifest.tables.flatMap((table) => table.files),
    ...(manifest.files?.objects ?? []).map((file) => ({ path: file.stored_as, sha256: file.sha256 })),
  ]);
  for (const file of sources) {
    if (services.now().getTime() >= options.deadline) return null;
    if (remotePaths.has(file.path) && (await copyMatches(offsite, file.path, file.sha256))) continue;
    const data = await services.storage.get(file.path);
    if ((await checksumOf(file.path, data)) !== file.sha256) {
      throw fail("unprocessable", `backup file ${file.path} is damaged in the primary storage: not copied`, {
        file: file.path,
      });
    }
    await putVerified(offsite, file.path, data, contentTypeOf(file.path), file.sha256);
    objects += 1;
    bytes += data.byteLength;
  }
  const summary = await services.storage.get(summaryPath);
  // Renewed only if no one took the tenant since: no sweep can have run between the listing and here.
  await lease.renew();
  await putVerified(offsite, summaryPath, summary, "application/json", sha256(summary));
  return { objects: objects + 1, bytes: bytes + summary.byteLength };
}

/** Writes, reads back and compares; a copy that differs is removed and reported (422). */
async function putVerified(
  offsite: BackupStorage,
  path: string,
  data: Uint8Array,
  contentType: string,
  expected: string,
): Promise<void> {
  await offsite.put(path, data, contentType);
  if (await copyMatches(offsite, path, expected)) return;
  await offsite.remove([path]);
  throw fail("unprocessable", `the off-site copy of ${path} did not match after upload: removed`, {
    file: path,
  });
}

/**
 * Whether the copy already off-site holds exactly that (a copy that no longer decrypts or decompresses
 * does not).
 */
async function copyMatches(offsite: BackupStorage, path: string, expected: string): Promise<boolean> {
  try {
    if (isChunkPath(path)) return (await checksumOf(path, await offsite.get(path))) === expected;
    return (await sha256Of(offsite, path)) === expected;
  } catch (err) {
    if (err instanceof AppError && err.code === "unprocessable") return false;
    if ((err as NodeJS.ErrnoException).code?.startsWith("ZSTD_")) return false;
    throw err;
  }
}

/**
 * What the summary's sha256 is of: a chunk's uncompressed text (formats 2 and 3), a per-backup file's stored
 * bytes (format 1), the summary's own bytes.
 */
async function checksumOf(path: string, data: Uint8Array): Promise<string> {
  return sha256(isChunkPath(path) ? await decompressChunk(data) : data);
}

/** A per-backup file (up to BACKUP_MAX_FILE_BYTES) is hashed as it streams, not held whole. */
async function sha256Of(storage: BackupStorage, path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of (await storage.getStream(path)) as unknown as AsyncIterable<Uint8Array>) {
    hash.update(chunk);
  }
  return hash.digest("hex");
}

function contentTypeOf(path: string): string {
  if (isFileBlobPath(path)) return "application/octet-stream";
  // Chunks and format 1 table files are zstd; format 1 files written before were gzip (.jsonl.gz).
  return isChunkPath(path) || path.endsWith(".zst") ? "application/zstd" : "application/gzip";
}

function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/**
 * Off-site retention, per tenant under its lease (listed afresh under it): the summary goes first (the
 * backup stops existing), then its files; and the files of copies that never got their summary, once they
 * are as old as an expired backup. Then the sweep of the chunks and file copies no off-site summary names,
 * unless the tenant's copy is unfinished.
 */
async function removeExpired(
  services: Services,
  offsite: BackupStorage,
  remote: TenantInventory[],
  cutoff: string,
  unfinished: ReadonlySet<string>,
  result: OffsiteResult,
): Promise<void> {
  for (const { tenantId } of remote) {
    const lease = await leaseOf(services, tenantId, result);
    if (!lease) continue;
    try {
      const tenant = inventoryOf(tenantId, await offsite.list(tenantPrefix(tenantId)));
      for (const backup of expiredOffsite(tenant.backups, cutoff)) {
        const about = { organization_id: tenantId, backup_id: backup.backupId, backup_date: backup.date };
        try {
          await offsite.remove([backup.summaryPath]);
          const prefix = filesPrefix(tenantId, backup.date, backup.backupId);
          await offsite.remove((await offsite.list(prefix)).map((o) => o.path));
          result.removed.push(about);
        } catch (err) {
          services.log.error({ err, tenant: tenantId, backupId: backup.backupId }, "off-site removal failed");
          result.failed.push({ ...about, error: errorMessage(err) });
        }
      }
      const stale = tenant.orphans.filter((orphan) => orphan.date < cutoff).flatMap((orphan) => orphan.paths);
      await offsite
        .remove(stale)
        .catch((err) => services.log.warn({ err }, "off-site orphan removal failed"));
      if (!unfinished.has(tenantId)) await sweepOffsite(services, offsite, tenantId, lease, result);
    } finally {
      await lease.release();
    }
  }
}

/** The primary's mark and sweep, run against the off-site storage: only off-site summaries count there. */
async function sweepOffsite(
  services: Services,
  offsite: BackupStorage,
  tenantId: string,
  lease: Lease,
  result: OffsiteResult,
): Promise<void> {
  try {
    const sweep = await sweepChunks({ ...services, storage: offsite }, tenantId, { dryRun: false, lease });
    result.chunks_removed += sweep.deleted;
    result.chunk_bytes_removed += sweep.unreferenced_bytes;
    if (sweep.deleted > 0) {
      services.log.info({ tenant: tenantId, chunks: sweep.deleted }, "swept off-site chunks");
    }
  } catch (err) {
    services.log.error({ err, tenant: tenantId }, "off-site chunk sweep failed");
    result.sweep_failed.push({ organization_id: tenantId, error: errorMessage(err) });
  }
}
