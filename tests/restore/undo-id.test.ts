/**
 * A restore's undo point gets a new backup id: its millisecond and 16 random bits, so it can repeat the id
 * of a run that exists (a backup of the same millisecond, or a test clock that stands still). The undo
 * point then draws another id: stored under the repeated one it would never be stored at all (that run has
 * ended), and could be taken for that backup.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { runManualBackup } from "../../lib/backup/manual.ts";
import { newBackupId } from "../../lib/backup/paths.ts";
import { restoreTenant } from "../../lib/restore/restore-tenant.ts";
import { installSmallApp, ORG_A } from "../operations/small-app.ts";
import { deadlineIn } from "../support/clock.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { createTestServices, type TestServices } from "../support/services.ts";

vi.mock("../../lib/backup/paths.ts", async (importOriginal) => {
  const actual = await importOriginal<typeof import("../../lib/backup/paths.ts")>();
  return { ...actual, newBackupId: vi.fn(actual.newBackupId) };
});

let db: TestDatabase;
let services: TestServices;

beforeAll(async () => {
  db = await createTestDatabase("migrated");
  await installSmallApp(db.owner);
  services = await createTestServices(db.url);
  services.clock.set("2026-11-20T10:00:00Z");
});

afterAll(async () => {
  await services?.cleanup();
  await db?.drop();
});

async function runRow(backupId: string) {
  const { rows } = await db.client.query(
    "select organization_id, backup_type, status, summary_path, updated_at from tenant_backup_runs where backup_id = $1",
    [backupId],
  );
  return rows[0];
}

describe("a restore whose undo point's id names an existing run", () => {
  it("draws another id: the undo point is stored under it, and the run that had the id is left as it was", async () => {
    const earlier = await runManualBackup(services, ORG_A, { deadline: deadlineIn(services) });
    expect(earlier.status).toBe("completed");
    const before = await runRow(earlier.backupId);

    vi.mocked(newBackupId).mockReturnValueOnce(earlier.backupId);
    const outcome = await restoreTenant(services, {
      tenantId: ORG_A,
      backupDate: "2026-11-20",
      backupId: earlier.backupId,
      dryRun: false,
      deadline: deadlineIn(services),
    });
    if (outcome.status !== "done") throw new Error(`restore ${outcome.status}`);
    expect(outcome.report.success).toBe(true);
    // Stored now, not left pending in the database.
    expect(outcome.warnings.filter((w) => w.includes("undo point"))).toEqual([]);

    const undo = outcome.undoBackupId as string;
    expect(undo).not.toBe(earlier.backupId);
    expect(await runRow(undo)).toMatchObject({
      organization_id: ORG_A,
      backup_type: "pre_restore",
      status: "completed",
    });
    expect(await runRow(earlier.backupId)).toEqual(before);
  });
});
