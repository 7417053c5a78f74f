/**
 * Shared by the restore tests on schemas of our own: fixtures, backups on a fixed day, the restore call,
 * and the backup_logs rows a restore leaves.
 */
import { readFileSync } from "node:fs";
import type pg from "pg";
import { handleRestoreTenantData } from "../../functions/restore-tenant-data.ts";
import { dayOfBackupId } from "../../lib/backup/paths.ts";
import { backupTenant } from "../../lib/backup/tenant-backup.ts";
import { restoreTenant } from "../../lib/restore/restore-tenant.ts";
import type { Services } from "../../lib/services.ts";
import { call } from "../support/call.ts";
import { deadlineIn } from "../support/clock.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { TEST_CRON_SECRET } from "../support/services.ts";
import { snapshot } from "../support/snapshot.ts";

export const fixture = (name: string) =>
  readFileSync(new URL(`../fixtures/${name}`, import.meta.url), "utf8");

/** The day our backups are filed under: not today, so that undo points (filed today) never mix in. */
export const BACKUP_DATE = "2026-11-20";

/** tests/fixtures/restore-app.sql: its tenant layout and tenant tables, parents first. */
export const APP_ENV = { TENANT_ROOT_TABLE: "workspaces", TENANT_KEY: "workspace_id" };
/** The app with small chunks, so that the tenant's few hundred rows make many and each table several. */
export const APP_SMALL_CHUNKS_ENV = {
  ...APP_ENV,
  BACKUP_CHUNK_TARGET_BYTES: "4096",
  BACKUP_MAX_FILE_BYTES: "2048",
};
export const APP_TABLES = ["workspaces", "contacts", "deals", "deal_notes"] as const;

/** Each restore-app table's rows of the workspaces matching `predicate` (e.g. "= 'w1'", "<> 'w1'"). */
export function workspaceRows(predicate: string): Record<(typeof APP_TABLES)[number], string> {
  return {
    workspaces: `(select * from workspaces where id ${predicate})`,
    contacts: `(select * from contacts where workspace_id ${predicate})`,
    deals: `(select * from deals where workspace_id ${predicate})`,
    deal_notes: `(select n.* from deal_notes n join deals d on d.id = n.deal_id where d.workspace_id ${predicate})`,
  };
}

/** Snapshot of the restore-app tables, limited to the workspaces matching `predicate`, by table name. */
export async function workspaceSnapshot(
  client: pg.ClientBase,
  predicate: string,
): Promise<Record<string, string>> {
  const queries = workspaceRows(predicate);
  const hashes = await snapshot(client, Object.values(queries));
  return Object.fromEntries(Object.entries(queries).map(([name, sql]) => [name, hashes[sql] as string]));
}

/**
 * Moves the contacts of workspace `from` to workspace `to` (which need not exist), with foreign keys and
 * triggers off (replica mode), in one transaction: a tenant's contacts out of it and back.
 */
export function moveContacts(client: pg.ClientBase, from: string, to: string) {
  return client.query(
    `begin; set local session_replication_role = replica;
     update contacts set workspace_id = '${to}' where workspace_id = '${from}'; commit`,
  );
}

/** A migrated database with the restore-app schema, and its data unless `data` is false. */
export async function createAppDatabase(data = true): Promise<TestDatabase> {
  const db = await createTestDatabase("migrated");
  await db.owner.query(fixture("restore-app.sql"));
  if (data) await db.owner.query(fixture("restore-app-data.sql"));
  return db;
}

/** A completed backup of one tenant, filed under `date`. */
export async function backup(services: Services, tenantId: string, date = BACKUP_DATE) {
  const result = await backupTenant(services, {
    tenantId,
    tenantName: null,
    type: "manual",
    date,
    deadline: deadlineIn(services),
  });
  if (result.status !== "completed") throw new Error(`backup of ${tenantId} did not complete`);
  return result;
}

/** A real restore of tenant `tenantId` from backup `backupId`, filed under `backupDate`. */
export function restoreById(
  services: Services,
  tenantId: string,
  backupId: string,
  backupDate = BACKUP_DATE,
) {
  return restoreTenant(services, {
    tenantId,
    backupDate,
    backupId,
    dryRun: false,
    deadline: deadlineIn(services),
  });
}

/**
 * Runs `fn` as a call that ends right after a restore's apply commits, before storing its undo point
 * begins (as a call killed there does): the undo point stays captured in the database.
 */
export async function withUndoLeftWaiting<T>(services: Services, fn: () => Promise<T>): Promise<T> {
  const startRun = services.db.startRun.bind(services.db);
  services.db.startRun = async () => {
    throw new Error("the call ended");
  };
  try {
    return await fn();
  } finally {
    services.db.startRun = startRun;
  }
}

/** Stores undo point `undoId`, waiting in the database, as the tenant's next restore stores it (storeUndo). */
export function storeWaitingUndo(services: Services, tenantId: string, undoId: string) {
  return backupTenant(services, {
    tenantId,
    tenantName: null,
    type: "pre_restore",
    date: dayOfBackupId(undoId),
    deadline: deadlineIn(services),
    captureId: undoId,
  });
}

/** POST restore-tenant-data with the cron secret. */
export function restore(services: Services, body: Record<string, unknown>) {
  return call(handleRestoreTenantData, services, "restore-tenant-data", { token: TEST_CRON_SECRET, body });
}

/** The backup_logs rows restores left, oldest first, as [dry_run, status]. */
export async function restoreLogs(client: pg.ClientBase): Promise<[boolean, string][]> {
  const { rows } = await client.query(
    "select dry_run, status from backup_logs where backup_type = 'restore' order by id",
  );
  return rows.map((r) => [r.dry_run, r.status]);
}

/** Row counts of the audit trail by table and operation, e.g. {"contacts INSERT": 3}. */
export async function auditCounts(client: pg.ClientBase): Promise<Record<string, number>> {
  const { rows } = await client.query(
    "select table_name || ' ' || op as k, count(*)::int as n from audit_events group by 1 order by 1",
  );
  return Object.fromEntries(rows.map((r) => [r.k, r.n]));
}
