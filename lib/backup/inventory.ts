/**
 * What a tenant has in storage, from one listing: its backups (a summary is a backup; newest first) and
 * the file folders of runs that never got a summary (orphans: no summary means no backup). Reads no
 * manifest, so it stays cheap for retention passes over every tenant.
 */
import { fail } from "../errors.ts";
import type { Services } from "../services.ts";
import type { BackupStorage, StoredObject } from "../storage/port.ts";
import { utcDay } from "../time.ts";
import { datePrefix, parseSummaryPath, ROOT, summaryPath, tenantPrefix } from "./paths.ts";

export interface StoredBackup {
  backupId: string;
  date: string;
  summaryPath: string;
}

/** A run's file folder `{date}/{backup_id}/` and what is in it. */
export interface RunFolder {
  backupId: string;
  date: string;
  prefix: string;
  paths: string[];
  bytes: number;
}

export interface TenantInventory {
  tenantId: string;
  /** Newest first: backup ids start with their UTC start time. */
  backups: StoredBackup[];
  /** File folders without a summary, oldest first. */
  orphans: RunFolder[];
  /** Every object of the tenant the listing found. */
  objects: StoredObject[];
}

/** The folder holding a backup's table files. */
export function filesPrefix(tenantId: string, date: string, backupId: string): string {
  return `${datePrefix(tenantId, date)}${backupId}/`;
}

const FILE_KEY = /^tenant-backups\/([^/]+)\/(\d{4}-\d{2}-\d{2})\/([^/]+)\/.+$/;

export function inventoryOf(tenantId: string, objects: StoredObject[]): TenantInventory {
  const backups: StoredBackup[] = [];
  const folders = new Map<string, RunFolder>();
  for (const object of objects) {
    const summary = parseSummaryPath(object.path);
    if (summary) {
      if (summary.tenantId === tenantId) {
        backups.push({ backupId: summary.backupId, date: summary.date, summaryPath: object.path });
      }
      continue;
    }
    const match = FILE_KEY.exec(object.path);
    if (!match || match[1] !== tenantId) continue;
    const date = match[2] as string;
    const backupId = match[3] as string;
    const key = `${date}/${backupId}`;
    let folder = folders.get(key);
    if (!folder) {
      folder = { backupId, date, prefix: filesPrefix(tenantId, date, backupId), paths: [], bytes: 0 };
      folders.set(key, folder);
    }
    folder.paths.push(object.path);
    folder.bytes += object.size;
  }
  const withSummary = new Set(backups.map((b) => `${b.date}/${b.backupId}`));
  backups.sort((a, b) => compareIds(b.backupId, a.backupId) || compareIds(b.date, a.date));
  const orphans = [...folders.entries()]
    .filter(([key]) => !withSummary.has(key))
    .map(([, folder]) => folder)
    .sort((a, b) => compareIds(a.backupId, b.backupId));
  return { tenantId, backups, orphans, objects };
}

export async function tenantInventory(services: Services, tenantId: string): Promise<TenantInventory> {
  return inventoryOf(tenantId, await services.storage.list(tenantPrefix(tenantId)));
}

/** Every tenant that has anything in storage, with its objects: one listing for a pass over all of them. */
export async function inventoriesOfAll(services: Services): Promise<TenantInventory[]> {
  return inventoriesFrom(await services.storage.list(`${ROOT}/`));
}

/** inventoriesOfAll of a listing already made (of `tenant-backups/`). */
export function inventoriesFrom(objects: StoredObject[]): TenantInventory[] {
  const byTenant = new Map<string, StoredObject[]>();
  for (const object of objects) {
    const tenantId = object.path.split("/")[1];
    if (!tenantId) continue;
    const list = byTenant.get(tenantId);
    if (list) list.push(object);
    else byTenant.set(tenantId, [object]);
  }
  return [...byTenant.entries()]
    .sort(([a], [b]) => compareIds(a, b))
    .map(([tenantId, objects]) => inventoryOf(tenantId, objects));
}

/** The object stored at exactly `path`, or undefined (a listing by that prefix may also find longer keys). */
export async function objectAt(storage: BackupStorage, path: string): Promise<StoredObject | undefined> {
  return (await storage.list(path)).find((o) => o.path === path);
}

/**
 * The backup with that id, or null. Looks in the day the id names first (ids start with their UTC start
 * time, and a run's date is the day it started), so that finding one backup costs one small listing;
 * falls back to the tenant's whole folder.
 */
export async function backupById(
  services: Services,
  tenantId: string,
  backupId: string,
): Promise<StoredBackup | null> {
  const started = startedAtOf(backupId);
  if (started) {
    const date = utcDay(started);
    const path = summaryPath(tenantId, date, backupId);
    if (await objectAt(services.storage, path)) return { backupId, date, summaryPath: path };
  }
  const inventory = await tenantInventory(services, tenantId);
  return inventory.backups.find((b) => b.backupId === backupId) ?? null;
}

/** backupById, or 404 naming `backup_id` when the tenant has no such backup. */
export async function requireBackup(
  services: Services,
  tenantId: string,
  backupId: string,
): Promise<StoredBackup> {
  const backup = await backupById(services, tenantId, backupId);
  if (!backup)
    throw fail("not_found", `no backup ${backupId} of organization ${tenantId}`, { field: "backup_id" });
  return backup;
}

/** The start time a backup id begins with (`20261122T010203456Z-…`), or null for ids of another shape. */
export function startedAtOf(backupId: string): Date | null {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z/.exec(backupId);
  if (!m) return null;
  const [, y, mo, d, h, mi, s, ms] = m.map(Number) as number[];
  const at = new Date(Date.UTC(y as number, (mo as number) - 1, d, h, mi, s, ms));
  return Number.isNaN(at.getTime()) ? null : at;
}

/** Byte order, not locale order: the same on every machine, and what storage listings use. */
function compareIds(a: string, b: string): number {
  return a === b ? 0 : a < b ? -1 : 1;
}
