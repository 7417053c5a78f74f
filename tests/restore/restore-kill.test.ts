/**
 * A restore killed (SIGKILL) while its apply runs in the database: the apply's transaction goes on and
 * commits without it, and that commit itself closes the restore's log row, frees the tenant's lease and
 * clears the staged rows. The undo point it captured waits in the database, and the tenant's next restore
 * stores it as a backup first.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restoreTenant } from "../../lib/restore/restore-tenant.ts";
import { deadlineIn } from "../support/clock.ts";
import type { TestDatabase } from "../support/database.ts";
import { createTestServices, TEST_CRON_SECRET, type TestServices } from "../support/services.ts";
import { APP_ENV, BACKUP_DATE, backup, createAppDatabase, restoreLogs, workspaceSnapshot } from "./app.ts";

let db: TestDatabase;
let services: TestServices;

beforeAll(async () => {
  db = await createAppDatabase();
  services = await createTestServices(db.url, APP_ENV);
  await backup(services, "w1");
});

afterAll(async () => {
  await services?.cleanup();
  await db?.drop();
});

const q = (sql: string) => db.client.query(sql);

/** The backend running the apply of a restore, once it sleeps in the slow trigger; undefined if never. */
async function applyBackend(): Promise<number | undefined> {
  for (let i = 0; i < 400; i++) {
    const { rows } = await q(`select pid from pg_stat_activity
      where datname = current_database() and state = 'active' and query like '%tenant_backup_apply_live(%'
        and wait_event = 'PgSleep'`);
    if (rows[0]) return rows[0].pid as number;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return undefined;
}

async function applyGone(pid: number): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const { rows } = await q(`select 1 from pg_stat_activity where pid = ${pid} and state = 'active'`);
    if (rows.length === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error("the apply never finished");
}

/** Starts the restore in a child process; answers it, and a promise of how it ended. */
function startRestore() {
  const root = fileURLToPath(new URL("../../", import.meta.url));
  const child = spawn(process.execPath, ["--import", "tsx", `${root}tests/support/restore-child.ts`], {
    cwd: root,
    env: {
      ...process.env,
      ...APP_ENV,
      DATABASE_URL: db.url,
      BACKUP_DIR: services.backupDir,
      CRON_SECRET: TEST_CRON_SECRET,
      RESTORE_TENANT: "w1",
      RESTORE_DATE: BACKUP_DATE,
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.on("data", (chunk: Buffer) => {
    out += chunk.toString();
  });
  const ended = new Promise<string>((resolve) =>
    child.on("exit", (code, signal) => resolve(`${signal ?? code} ${out}`)),
  );
  return { child, ended };
}

describe("a restore killed while its apply runs", () => {
  it("leaves no running log row, no lease and no staging once the apply commits", {
    timeout: 60_000,
  }, async () => {
    const original = await workspaceSnapshot(db.client, "= 'w1'");
    await q("delete from contacts where workspace_id = 'w1' and id <= 5");
    await q("update contacts set phone = 'changed' where id = 20");
    const changed = await workspaceSnapshot(db.client, "= 'w1'");
    // Every deal the restore writes back takes 100 ms (ENABLE ALWAYS: in replica mode too).
    await q(`create function slow_row() returns trigger language plpgsql as
             $$ begin perform pg_sleep(0.1); return new; end $$`);
    await q("create trigger deals_slow before insert on deals for each row execute function slow_row()");
    await q("alter table deals enable always trigger deals_slow");
    try {
      const { child, ended } = startRestore();
      const pid = await applyBackend();
      expect(pid, "the restore never reached its apply").toBeDefined();
      child.kill("SIGKILL");
      expect(await ended).toBe("SIGKILL ");
      await applyGone(pid as number);
    } finally {
      await q("drop trigger deals_slow on deals; drop function slow_row()");
    }

    // The apply committed on its own: the data is the backup's, and nothing of the restore is left open.
    expect(await workspaceSnapshot(db.client, "= 'w1'")).toEqual(original);
    expect((await restoreLogs(db.client)).at(-1)).toEqual([false, "completed"]);
    expect((await q("select count(*)::int as n from backup_logs where status = 'running'")).rows[0].n).toBe(
      0,
    );
    expect((await q("select count(*)::int as n from tenant_backup_locks")).rows[0].n).toBe(0);
    expect((await q("select count(*)::int as n from tenant_backup_stage")).rows[0].n).toBe(0);
    // Its undo point waits in the database: the state before the restore, not yet a backup.
    const captured = await q("select distinct capture_id from tenant_backup_undo");
    expect(captured.rows).toHaveLength(1);
    const undoId = captured.rows[0].capture_id as string;
    expect(await services.db.getRun(undoId)).toBeNull();

    // The next restore (the lease is free at once) stores it first; restoring it gives the changed state back.
    const next = await restoreTenant(services, {
      tenantId: "w1",
      backupDate: BACKUP_DATE,
      dryRun: false,
      deadline: deadlineIn(services),
    });
    expect(next.status).toBe("done");
    expect((await services.db.getRun(undoId))?.status).toBe("completed");
    const undo = await restoreTenant(services, {
      tenantId: "w1",
      backupDate: (await services.db.getRun(undoId))?.backup_date as string,
      backupId: undoId,
      dryRun: false,
      deadline: deadlineIn(services),
    });
    expect(undo.status).toBe("done");
    expect(await workspaceSnapshot(db.client, "= 'w1'")).toEqual(changed);
  });
});
