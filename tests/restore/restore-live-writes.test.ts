/**
 * A restore while the app keeps writing: every write the app commits is either in the tenant's data after
 * the restore or in the restore's undo point. A writer on its own connection (as the owner, like the app)
 * inserts and updates the tenant's contacts in a loop for the whole restore, and another tenant's too;
 * a transaction of the app holds a write on the tenant's contacts when the apply starts, so that the apply
 * has to wait for it, and the writes queue behind the apply: the window is real, not a few milliseconds.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readManifest } from "../../lib/backup/reader.ts";
import { restoreTenant } from "../../lib/restore/restore-tenant.ts";
import { parseRows, readVerifiedFile } from "../support/backup-files.ts";
import { deadlineIn } from "../support/clock.ts";
import type { TestDatabase } from "../support/database.ts";
import { createTestServices, type TestServices } from "../support/services.ts";
import { APP_ENV, BACKUP_DATE, backup, createAppDatabase } from "./app.ts";

let db: TestDatabase;
let services: TestServices;

beforeAll(async () => {
  db = await createAppDatabase();
  services = await createTestServices(db.url, APP_ENV);
  await backup(services, "w1");
  await backup(services, "w2");
});

afterAll(async () => {
  await services?.cleanup();
  await db?.drop();
});

/** The app: one connection, autocommit, so a write is committed when its query returns. */
async function appConnection(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  return client;
}

/**
 * Writes in a loop until stopped: inserts a contact of `workspace`, or updates the phone of one inserted
 * before, or of one the backup has. Answers the phone each email last committed.
 */
function writeLoop(app: pg.Client, workspace: string) {
  const committed = new Map<string, string>();
  let stopped = false;
  const done = (async () => {
    for (let n = 0; !stopped; n++) {
      const phone = `${workspace}-v${n}`;
      if (n % 3 === 0) {
        const email = `live-${workspace}-${n}@example.com`;
        await app.query(
          "insert into contacts (workspace_id, first_name, last_name, email, phone) values ($1, 'Live', $2, $3, $4)",
          [workspace, String(n), email, phone],
        );
        committed.set(email, phone);
      } else {
        // Alternately a row inserted during the restore and a row the backup has (but its 40th contact).
        const emails = [...committed.keys()];
        const email =
          n % 3 === 1 && emails.length > 0
            ? (emails[n % emails.length] as string)
            : `${workspace}-${(n % 39) + 1}@example.com`;
        const { rowCount } = await app.query("update contacts set phone = $2 where email = $1", [
          email,
          phone,
        ]);
        if (rowCount === 1) committed.set(email, phone);
      }
    }
  })();
  return {
    committed,
    async stop() {
      stopped = true;
      await done;
      return committed;
    },
  };
}

/** email → phone of the contacts of `workspace` in the undo point `backupId`. */
async function undoPhones(backupId: string): Promise<Map<string, string | null>> {
  const run = await services.db.getRun(backupId);
  expect(run?.status).toBe("completed");
  const manifest = await readManifest(services.storage, run?.summary_path as string);
  expect(manifest.backup_type).toBe("pre_restore");
  const table = manifest.tables.find((t) => t.name === "contacts");
  const names = table?.columns.map((c) => c.name) ?? [];
  const phones = new Map<string, string | null>();
  for (const file of table?.files ?? []) {
    for (const row of parseRows(await readVerifiedFile(services.storage, file))) {
      phones.set(row[names.indexOf("email")] as string, row[names.indexOf("phone")] ?? null);
    }
  }
  return phones;
}

async function livePhones(workspace: string): Promise<Map<string, string | null>> {
  const { rows } = await db.client.query("select email, phone from contacts where workspace_id = $1", [
    workspace,
  ]);
  return new Map(rows.map((r) => [r.email as string, r.phone as string | null]));
}

/** Polls until the apply waits for a table lock that an app transaction holds. */
async function applyWaitingForLock(): Promise<boolean> {
  for (let i = 0; i < 200; i++) {
    const { rows } = await db.client.query(`select 1 from pg_stat_activity a join pg_locks l on l.pid = a.pid
      where a.datname = current_database() and a.query like '%tenant_backup_apply_live(%' and not l.granted`);
    if (rows.length > 0) return true;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return false;
}

describe("a restore while the app writes", () => {
  it("keeps every committed write in the restored data or in the undo point", {
    timeout: 60_000,
  }, async () => {
    const [app, other, holder] = [await appConnection(), await appConnection(), await appConnection()];
    try {
      const tenant = writeLoop(app, "w1");
      const otherTenant = writeLoop(other, "w2");
      while (tenant.committed.size < 10) await new Promise((resolve) => setTimeout(resolve, 10));

      const workspaceRow = "select xmin::text, * from workspaces where id = 'w1'";
      const workspaceBefore = (await db.client.query(workspaceRow)).rows;
      // An app transaction writing to the tenant's contacts when the apply begins.
      await holder.query("begin");
      await holder.query("update contacts set phone = 'held' where email = 'w1-40@example.com'");
      const restoring = restoreTenant(services, {
        tenantId: "w1",
        backupDate: BACKUP_DATE,
        dryRun: false,
        deadline: deadlineIn(services),
      });
      expect(await applyWaitingForLock()).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 300));
      await holder.query("commit");

      const outcome = await restoring;
      if (outcome.status !== "done") throw new Error(`restore: ${outcome.status}`);
      expect(outcome.report.success).toBe(true);
      // The workspace row did not change: it is not written (its version is the same), so the app's
      // inserts referencing it never fail (the writers would have thrown).
      expect((await db.client.query(workspaceRow)).rows).toEqual(workspaceBefore);
      // Writes go on after the restore, then stop.
      const restoredAt = tenant.committed.size;
      while (tenant.committed.size < restoredAt + 10) await new Promise((resolve) => setTimeout(resolve, 10));
      const committed = await tenant.stop();
      const otherCommitted = await otherTenant.stop();
      committed.set("w1-40@example.com", "held");

      const live = await livePhones("w1");
      const undo = await undoPhones(outcome.undoBackupId as string);
      // Writes before the apply are in the undo point only, those after it in the data: both happened.
      const inUndoOnly = [...committed].filter(([e, p]) => undo.get(e) === p && live.get(e) !== p);
      const inLiveOnly = [...committed].filter(([e, p]) => live.get(e) === p && undo.get(e) !== p);
      expect(inUndoOnly.length).toBeGreaterThan(0);
      expect(inLiveOnly.length).toBeGreaterThan(0);
      const lost = [...committed].filter(([e, p]) => live.get(e) !== p && undo.get(e) !== p);
      expect(lost).toEqual([]);
      // The held write committed before the apply took its lock: the undo point has it.
      expect(undo.get("w1-40@example.com")).toBe("held");

      // The other tenant's writes waited for the apply and all landed.
      const otherLive = await livePhones("w2");
      expect([...otherCommitted].filter(([e, p]) => otherLive.get(e) !== p)).toEqual([]);
    } finally {
      await Promise.all([app.end(), other.end(), holder.end()]);
    }
  });

  it("refuses, changing nothing, when a write in flight keeps the tables from being locked for 10 s", {
    timeout: 60_000,
  }, async () => {
    const holder = await appConnection();
    try {
      await holder.query("begin");
      await holder.query("update contacts set phone = 'long' where email = 'w1-39@example.com'");
      const before = await livePhones("w1");
      const logs = (await db.client.query("select count(*)::int as n from backup_logs")).rows[0].n;
      const refused = await restoreTenant(services, {
        tenantId: "w1",
        backupDate: BACKUP_DATE,
        dryRun: false,
        deadline: deadlineIn(services),
      }).catch((err: unknown) => err);
      expect(refused).toMatchObject({ code: "unavailable", details: { reason: "tables_busy" } });
      await holder.query("commit");
      expect(await livePhones("w1")).toEqual(new Map([...before, ["w1-39@example.com", "long"]]));
      const { rows } = await db.client.query("select status from backup_logs order by id offset $1", [logs]);
      expect(rows).toEqual([{ status: "failed" }]);
      expect((await db.client.query("select count(*)::int as n from tenant_backup_undo")).rows[0].n).toBe(0);
      expect((await db.client.query("select count(*)::int as n from tenant_backup_locks")).rows[0].n).toBe(0);
    } finally {
      await holder.end();
    }
  });
});
