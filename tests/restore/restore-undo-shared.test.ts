/**
 * The undo point of a restore that changes part of a tenant: the apply builds it from the rows it compares,
 * and a table it leaves as it was keeps the restored backup's own entry (the same chunks). Restoring the
 * undo point gives back the tenant exactly as it was before the restore; and an undo point whose storing
 * was cut short waits in the database naming those chunks, which a chunk sweep keeps until it is stored.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteBackup } from "../../lib/backup/delete.ts";
import { tenantInventory } from "../../lib/backup/inventory.ts";
import type { Manifest } from "../../lib/backup/manifest.ts";
import { dayOfBackupId } from "../../lib/backup/paths.ts";
import { sweepChunks } from "../../lib/chunks/sweep.ts";
import { takeLease } from "../../lib/lease.ts";
import { pickBackupForRestore } from "../../lib/restore/pick-backup.ts";
import { parseRows, readVerifiedFile } from "../support/backup-files.ts";
import type { TestDatabase } from "../support/database.ts";
import { createTestServices, type TestServices } from "../support/services.ts";
import {
  APP_SMALL_CHUNKS_ENV,
  APP_TABLES,
  BACKUP_DATE,
  backup,
  createAppDatabase,
  restoreById,
  storeWaitingUndo,
  withUndoLeftWaiting,
  workspaceSnapshot,
} from "./app.ts";

let db: TestDatabase;
let services: TestServices;

beforeAll(async () => {
  db = await createAppDatabase();
  services = await createTestServices(db.url, APP_SMALL_CHUNKS_ENV);
});

afterAll(async () => {
  await services?.cleanup();
  await db?.drop();
});

const q = (sql: string) => db.client.query(sql);
const entry = (manifest: Manifest, table: string) => manifest.tables.find((t) => t.name === table);

/** Changes w1's contacts (an edit, a delete, an insert) and nothing else. */
async function changeContacts(n: number) {
  await q(`update contacts set phone = 'edit ${n}' where workspace_id = 'w1' and id % 13 = ${n}`);
  await q(`delete from contacts c where workspace_id = 'w1' and id % 13 = ${n + 1}
           and not exists (select 1 from deals d where d.contact_id = c.id)`);
  await q(`insert into contacts (workspace_id, first_name, last_name, email)
           values ('w1', 'New', 'Contact ${n}', 'new${n}@example.com')`);
}

const restoreW1 = (backupId: string, backupDate = BACKUP_DATE) =>
  restoreById(services, "w1", backupId, backupDate);

const undoManifest = async (undoId: string): Promise<Manifest> =>
  (await pickBackupForRestore(services.storage, "w1", dayOfBackupId(undoId), undoId)).manifest;

describe("the undo point of a restore that changes part of the tenant", () => {
  it("names the backup's chunks for the tables left as they were, and restores the state before exactly", async () => {
    const restored = await backup(services, "w1");
    const original = await workspaceSnapshot(db.client, "= 'w1'");
    await changeContacts(1);
    const changed = await workspaceSnapshot(db.client, "= 'w1'");
    const others = await workspaceSnapshot(db.client, "<> 'w1'");

    const outcome = await restoreW1(restored.backupId);
    expect(outcome.status === "done" && outcome.report.success, JSON.stringify(outcome)).toBe(true);
    if (outcome.status !== "done") return;
    expect(outcome.report.tables.contacts).toMatchObject({ would_change: expect.any(Number) });
    expect(await workspaceSnapshot(db.client, "= 'w1'")).toEqual(original);
    expect(await workspaceSnapshot(db.client, "<> 'w1'")).toEqual(others);

    const undo = await undoManifest(outcome.undoBackupId as string);
    expect(undo.backup_type).toBe("pre_restore");
    for (const table of APP_TABLES.filter((t) => t !== "contacts")) {
      expect(entry(undo, table)?.files, table).toEqual(entry(restored.manifest, table)?.files);
    }
    expect(entry(undo, "contacts")?.files).not.toEqual(entry(restored.manifest, "contacts")?.files);
    // In the backup's order (by key), so that its chunks are cut where a backup's are.
    const texts = await Promise.all(
      (entry(undo, "contacts")?.files ?? []).map((f) => readVerifiedFile(services.storage, f)),
    );
    const ids = texts.flatMap((text) => parseRows(text).map((r) => Number(r[0])));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(entry(undo, "contacts")?.row_count).toBe(
      (await q("select count(*)::int as n from contacts where workspace_id = 'w1'")).rows[0].n +
        Number(outcome.report.tables.contacts?.would_insert) -
        Number(outcome.report.tables.contacts?.would_delete),
    );

    const undoId = outcome.undoBackupId as string;
    const back = await restoreW1(undoId, dayOfBackupId(undoId));
    expect(back.status === "done" && back.report.success).toBe(true);
    expect(await workspaceSnapshot(db.client, "= 'w1'")).toEqual(changed);
    expect(await workspaceSnapshot(db.client, "<> 'w1'")).toEqual(others);
  });

  it("waits in the database when the call ends before storing it, and keeps the chunks it names through a sweep until stored", async () => {
    const restored = await backup(services, "w1");
    await changeContacts(2);
    const changed = await workspaceSnapshot(db.client, "= 'w1'");

    // The call ends right after the apply commits, before storing its undo point begins (as a call killed
    // there does): the undo point stays captured in the database.
    const outcome = await withUndoLeftWaiting(services, () => restoreW1(restored.backupId));
    expect(outcome.status === "done" && outcome.report.success).toBe(true);
    if (outcome.status !== "done") return;
    const undoId = outcome.undoBackupId as string;
    expect(outcome.warnings.join(" ")).toContain(`the undo point ${undoId} is captured`);
    const reused = await services.db.undoReused("w1");
    expect(reused.map((r) => r.table).sort()).toEqual(["deal_notes", "deals", "workspaces"]);

    // Every stored backup of the tenant goes, and a sweep runs: only the waiting undo point names the
    // chunks of the tables it kept, and they stay.
    for (const stored of (await tenantInventory(services, "w1")).backups) {
      await deleteBackup(services, "w1", stored, { type: "delete", reason: "test", actor: "test" });
    }
    const lease = await takeLease(services, "w1", "retention");
    try {
      const swept = await sweepChunks(services, "w1", { dryRun: false, lease });
      expect(swept.deleted).toBeGreaterThan(0);
    } finally {
      await lease.release();
    }

    // Stored as the next restore stores it (lib/restore/restore-tenant.ts, storeUndo); restoring it gives
    // the state before back.
    expect((await storeWaitingUndo(services, "w1", undoId)).status).toBe("completed");
    expect(await services.db.undoReused("w1")).toEqual([]);
    const back = await restoreW1(undoId, dayOfBackupId(undoId));
    expect(back.status === "done" && back.report.success, JSON.stringify(back)).toBe(true);
    expect(await workspaceSnapshot(db.client, "= 'w1'")).toEqual(changed);
  });
});
