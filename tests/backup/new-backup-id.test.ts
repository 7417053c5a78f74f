/**
 * A new backup id is its millisecond and 16 random bits, so it can name a run that already exists (many
 * backups of one millisecond, or a test clock that stands still). The new backup then draws another id:
 * it neither takes over the run that has it (stopping with "no longer running" when that run has ended)
 * nor writes its progress into another tenant's run under way.
 */
import { setTimeout as delay } from "node:timers/promises";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { runManualBackup } from "../../lib/backup/manual.ts";
import { installSmallApp, ORG_A, ORG_B } from "../operations/small-app.ts";
import { deadlineIn } from "../support/clock.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { createTestServices, type TestServices } from "../support/services.ts";

let db: TestDatabase;
let services: TestServices;

beforeAll(async () => {
  db = await createTestDatabase("migrated");
  await installSmallApp(db.owner);
  // Several parts per table: a call whose budget is spent stops after one, leaving its run under way.
  services = await createTestServices(db.url, {
    BACKUP_LAYOUT: "files",
    BACKUP_PAGE_ROWS: "5",
    BACKUP_MAX_FILE_BYTES: "200",
  });
  services.clock.set("2026-11-20T10:00:00Z");
});

afterAll(async () => {
  await services?.cleanup();
  await db?.drop();
});

/** The next run started is given `backupId` instead of the id the backup drew, as when the draw repeats it. */
function nextIdRepeats(backupId: string) {
  const startRun = services.db.startRun.bind(services.db);
  return vi.spyOn(services.db, "startRun").mockImplementationOnce((args) => startRun({ ...args, backupId }));
}

async function runRow(backupId: string) {
  const { rows } = await db.client.query(
    "select organization_id, status, progress, summary_path, updated_at, log_id from tenant_backup_runs where backup_id = $1",
    [backupId],
  );
  return rows[0];
}

describe("a new backup whose id names an existing run", () => {
  it("draws another when the run that has it has ended, and leaves that run as it ended", async () => {
    const earlier = await runManualBackup(services, ORG_A, { deadline: deadlineIn(services) });
    expect(earlier.status).toBe("completed");
    const before = await runRow(earlier.backupId);
    const spy = nextIdRepeats(earlier.backupId);
    const later = await runManualBackup(services, ORG_A, { deadline: deadlineIn(services) });
    spy.mockRestore();
    expect(later.status).toBe("completed");
    expect(later.backupId).not.toBe(earlier.backupId);
    expect(await runRow(earlier.backupId)).toEqual(before);
    expect(await runRow(later.backupId)).toMatchObject({ organization_id: ORG_A, status: "completed" });
  });

  it("draws another when the run that has it is another tenant's under way, and leaves that run alone", async () => {
    const other = await runManualBackup(services, ORG_B, { deadline: services.clock.now().getTime() - 1 });
    expect(other.status).toBe("incomplete");
    const before = await runRow(other.backupId);
    const spy = nextIdRepeats(other.backupId);
    const mine = await runManualBackup(services, ORG_A, { deadline: deadlineIn(services) });
    spy.mockRestore();
    expect(mine.status).toBe("completed");
    expect(mine.backupId).not.toBe(other.backupId);
    expect(await runRow(other.backupId)).toEqual(before);
    // The other tenant's run carries on where it was.
    const resumed = await runManualBackup(services, ORG_B, { deadline: deadlineIn(services) });
    expect(resumed).toMatchObject({ status: "completed", backupId: other.backupId });
  });

  it("draws another when a backup starting at the same moment takes its id first", async () => {
    // Another tenant's backup starts a run with the id, in a statement not yet committed: ours, drawing the
    // same id, waits on that row and then finds the id taken.
    const id = "20261120T100000000Z-5a1e";
    const other = new pg.Client({ connectionString: db.url });
    await other.connect();
    await other.query("begin");
    await other.query("select public.tenant_backup_run_start($1, $2, $3, 'manual', 'manual_tenant')", [
      id,
      ORG_B,
      "2026-11-20",
    ]);
    const spy = nextIdRepeats(id);
    const mine = runManualBackup(services, ORG_A, { deadline: deadlineIn(services) });
    const waiting = async () =>
      (
        await db.client.query(
          "select 1 from pg_stat_activity where wait_event_type = 'Lock' and query like '%tenant_backup_run_start%'",
        )
      ).rowCount;
    for (let i = 0; i < 400 && !(await waiting()); i++) await delay(5);
    expect(await waiting()).toBe(1);
    await other.query("commit");
    await other.end();
    const result = await mine;
    spy.mockRestore();
    expect(result.status).toBe("completed");
    expect(result.backupId).not.toBe(id);
    expect(await runRow(id)).toMatchObject({ organization_id: ORG_B, status: "running" });
    expect(await runRow(result.backupId)).toMatchObject({ organization_id: ORG_A, status: "completed" });
  });
});
