/**
 * An undo point's id is claimed by the apply that captures it. Ids are a millisecond and 16 random bits, so
 * two calls can draw the same one at once: a restore (or a module import) whose id another tenant's capture
 * has, or is claiming at that moment, draws another, and that capture stays whole and its tenant's; a
 * backup never takes the id of a capture waiting to be stored; a dry run never clears one.
 */
import { setTimeout as delay } from "node:timers/promises";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { runManualBackup } from "../../lib/backup/manual.ts";
import { newBackupId } from "../../lib/backup/paths.ts";
import { restoreTenant } from "../../lib/restore/restore-tenant.ts";
import { importCsv, MODULE_ENV } from "../modules/module-app.ts";
import { deadlineIn } from "../support/clock.ts";
import type { TestDatabase } from "../support/database.ts";
import { createTestServices, type TestServices } from "../support/services.ts";
import {
  BACKUP_DATE,
  backup,
  createAppDatabase,
  storeWaitingUndo,
  withUndoLeftWaiting,
  workspaceSnapshot,
} from "./app.ts";

vi.mock("../../lib/backup/paths.ts", async (importOriginal) => {
  const actual = await importOriginal<typeof import("../../lib/backup/paths.ts")>();
  return { ...actual, newBackupId: vi.fn(actual.newBackupId) };
});

let db: TestDatabase;
let services: TestServices;
let w1Backup: string;
let w2Backup: string;

beforeAll(async () => {
  db = await createAppDatabase();
  services = await createTestServices(db.url, MODULE_ENV);
  services.clock.set(`${BACKUP_DATE}T10:00:00Z`);
  w1Backup = (await backup(services, "w1")).backupId;
  w2Backup = (await backup(services, "w2")).backupId;
});

afterEach(() => {
  vi.mocked(newBackupId).mockReset();
});

afterAll(async () => {
  await services?.cleanup();
  await db?.drop();
});

/** The next id drawn is `id`, as when two calls draw the same one. */
function nextIdIs(id: string) {
  vi.mocked(newBackupId).mockReturnValueOnce(id);
}

/** Per tenant, the captured rows waiting under `id`: [organization, rows]. */
async function captured(id: string): Promise<[string, number][]> {
  const { rows } = await db.client.query(
    `select organization_id, sum(row_count)::int as n from tenant_backup_undo
     where capture_id = $1 group by 1 order by 1`,
    [id],
  );
  return rows.map((r) => [r.organization_id, r.n]);
}

function restoreW1(dryRun = false) {
  return restoreTenant(services, {
    tenantId: "w1",
    backupDate: BACKUP_DATE,
    backupId: w1Backup,
    dryRun,
    deadline: deadlineIn(services),
  });
}

/** w2 restored, its undo point left captured in the database: answers the undo point's id. */
async function w2CaptureWaiting(): Promise<string> {
  await db.client.query("update contacts set phone = 'w2 before' where workspace_id = 'w2'");
  const outcome = await withUndoLeftWaiting(services, () =>
    restoreTenant(services, {
      tenantId: "w2",
      backupDate: BACKUP_DATE,
      backupId: w2Backup,
      dryRun: false,
      deadline: deadlineIn(services),
    }),
  );
  if (outcome.status !== "done" || !outcome.report.success) throw new Error("w2's restore failed");
  const { rows } = await db.client.query(
    "select distinct capture_id from tenant_backup_undo where organization_id = 'w2'",
  );
  expect(rows).toHaveLength(1);
  return rows[0].capture_id;
}

/** The undo point of `id` stored: what it holds of w2's contacts, as [phone]. */
async function storedW2Phones(id: string): Promise<string[]> {
  const stored = await storeWaitingUndo(services, "w2", id);
  expect(stored).toMatchObject({ status: "completed", backupId: id });
  const { rows } = await db.client.query(
    "select organization_id, backup_type, status from tenant_backup_runs where backup_id = $1",
    [id],
  );
  expect(rows).toEqual([{ organization_id: "w2", backup_type: "pre_restore", status: "completed" }]);
  const back = await restoreTenant(services, {
    tenantId: "w2",
    backupDate: BACKUP_DATE,
    backupId: id,
    dryRun: false,
    deadline: deadlineIn(services),
  });
  if (back.status !== "done" || !back.report.success) throw new Error("restoring w2's undo point failed");
  const phones = await db.client.query("select distinct phone from contacts where workspace_id = 'w2'");
  return phones.rows.map((r) => r.phone);
}

describe("an undo point's id another capture has", () => {
  it("a restore draws another when another tenant's capture waits under it; that capture stays w2's, whole", async () => {
    const waiting = await w2CaptureWaiting();
    const before = await captured(waiting);
    expect(before).toHaveLength(1);
    const w1Before = await workspaceSnapshot(db.client, "= 'w1'");

    nextIdIs(waiting);
    const outcome = await restoreW1();
    if (outcome.status !== "done") throw new Error(`restore ${outcome.status}`);
    expect(outcome.report.success).toBe(true);
    expect(outcome.undoBackupId).not.toBe(waiting);
    expect(outcome.warnings.filter((w) => w.includes("undo point"))).toEqual([]);
    expect(await workspaceSnapshot(db.client, "= 'w1'")).toEqual(w1Before);
    expect(await captured(waiting)).toEqual(before);
    // Stored, w2's undo point gives w2 back as it was before its restore: w2's rows, none of w1's.
    expect(await storedW2Phones(waiting)).toEqual(["w2 before"]);
  });

  it("a restore waits while another tenant's apply claims the id, then draws another", async () => {
    const id = newBackupId(services.now());
    const other = new pg.Client({ connectionString: db.url });
    await other.connect();
    try {
      await other.query("begin");
      await other.query("select public.tenant_backup_capture_claim($1, 'w2')", [id]);
      nextIdIs(id);
      const mine = restoreW1();
      const waiting = async () =>
        (
          await db.client.query(
            `select 1 from pg_stat_activity
             where wait_event_type = 'Lock' and wait_event = 'advisory' and query like '%tenant_backup_apply_live%'`,
          )
        ).rowCount;
      // The restore stages and plans first: up to 20 s on a busy machine.
      for (const until = Date.now() + 20_000; Date.now() < until && !(await waiting()); ) await delay(10);
      expect(await waiting()).toBe(1);
      await other.query("commit");
      const outcome = await mine;
      if (outcome.status !== "done") throw new Error(`restore ${outcome.status}`);
      expect(outcome.report.success).toBe(true);
      expect(outcome.undoBackupId).not.toBe(id);
      expect(await captured(id)).toEqual([["w2", 0]]);
    } finally {
      await other.end();
      await db.client.query("delete from tenant_backup_undo where capture_id = $1", [id]);
    }
  });

  it("a module import draws another, and leaves the capture waiting under it alone", async () => {
    const waiting = await w2CaptureWaiting();
    const before = await captured(waiting);
    nextIdIs(waiting);
    const file = "workspace_id,first_name,last_name,email,phone\nw1,New,Person,new@example.com,+1 555 0101\n";
    const answer = await importCsv(
      services,
      { organization_id: "w1", module: "crm", table: "contacts", dry_run: "false" },
      file,
    );
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body.summary).toMatchObject({ inserted: 1 });
    expect(answer.body.undo_backup_id).not.toBe(waiting);
    const { rows } = await db.client.query(
      "select organization_id, backup_type, status from tenant_backup_runs where backup_id = $1",
      [answer.body.undo_backup_id],
    );
    expect(rows).toEqual([{ organization_id: "w1", backup_type: "pre_restore", status: "completed" }]);
    expect(await captured(waiting)).toEqual(before);
    expect(await storedW2Phones(waiting)).toEqual(["w2 before"]);
  });

  it("a dry run leaves a capture waiting under the id it would have drawn alone", async () => {
    const waiting = await w2CaptureWaiting();
    const before = await captured(waiting);
    nextIdIs(waiting);
    const outcome = await restoreW1(true);
    expect(outcome.status).toBe("done");
    expect(await captured(waiting)).toEqual(before);
    await storedW2Phones(waiting);
  });
});

describe("a backup whose id is a capture waiting to be stored", () => {
  it("draws another, for another tenant and for the capture's own, and leaves the capture alone", async () => {
    const waiting = await w2CaptureWaiting();
    const before = await captured(waiting);
    for (const tenant of ["w1", "w2"]) {
      nextIdIs(waiting);
      const result = await runManualBackup(services, tenant, { deadline: deadlineIn(services) });
      expect(result.status).toBe("completed");
      expect(result.backupId).not.toBe(waiting);
    }
    expect(await captured(waiting)).toEqual(before);
    expect(await storedW2Phones(waiting)).toEqual(["w2 before"]);
  });
});
