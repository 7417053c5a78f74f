/**
 * A new backup id is its millisecond and 16 random bits, so it can name a run that already exists (many
 * backups of one millisecond, or a test clock that stands still). The new backup then draws another id:
 * it neither takes over the run that has it (stopping with "no longer running" when that run has ended)
 * nor writes its progress into another tenant's run under way.
 */
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
});
