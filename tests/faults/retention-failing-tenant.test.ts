/**
 * One tenant whose daily backup fails (its storage writes refused as full) does not turn retention off
 * for the others: their expired backups are deleted after the run, the failing tenant keeps its backups,
 * and the partial files of its failed run are cleared.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dailyRun } from "../../functions/daily-tenant-backup.ts";
import { inventoryOf } from "../../lib/backup/inventory.ts";
import { tenantPrefix } from "../../lib/backup/paths.ts";
import { StorageError } from "../../lib/storage/port.ts";
import { backupAt, installSmallApp, ORG_A, ORG_B, ORG_C } from "../operations/small-app.ts";
import { deadlineIn } from "../support/clock.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { createTestServices, type TestServices } from "../support/services.ts";

let db: TestDatabase;
let services: TestServices;

beforeAll(async () => {
  db = await createTestDatabase("migrated");
  await installSmallApp(db.owner);
  // Per-backup files: the failure is injected into the failed run's own folder, which retention clears.
  services = await createTestServices(db.url, {
    RETENTION_DAYS: "7",
    BACKUP_PAGE_ROWS: "5",
    BACKUP_LAYOUT: "files",
  });
});

afterAll(async () => {
  await services?.cleanup();
  await db?.drop();
});

const stored = async (org: string) => (await services.storage.list(tenantPrefix(org))).map((o) => o.path);
const backupIds = async (org: string) =>
  inventoryOf(org, await services.storage.list(tenantPrefix(org))).backups.map((b) => b.backupId);

describe("retention after a daily run where one tenant failed", () => {
  it("runs for the tenants that are fine and clears the failed run's files", async () => {
    const set = (at: string) => services.clock.set(at);
    const oldA = await backupAt(services, set, ORG_A, "2026-10-01T10:00:00Z");
    const oldC = await backupAt(services, set, ORG_C, "2026-10-01T11:00:00Z");

    set("2026-11-20T03:00:00Z");
    // C's storage is full once its first file is written: its run fails with a part already stored.
    let cWrites = 0;
    const failing: TestServices = {
      ...services,
      storage: {
        ...services.storage,
        async put(path, data, type) {
          if (path.includes(`/${ORG_C}/2026-11-20/`) && ++cWrites > 1) {
            throw new StorageError("full", "no space left", path);
          }
          return services.storage.put(path, data, type);
        },
      },
    };
    const { status, body } = await dailyRun(failing, deadlineIn(services));
    expect(cWrites).toBeGreaterThan(1);
    expect(status).toBe(500);
    expect(body.tenants.map((t: { status: string }) => t.status)).toEqual([
      "completed",
      "completed",
      "failed",
    ]);
    expect(body.retention).toMatchObject({ applied: true });

    // A's expired backup is gone, today's kept; B had nothing to expire.
    const idsA = await backupIds(ORG_A);
    expect(idsA).not.toContain(oldA.backupId);
    expect(idsA).toHaveLength(1);
    expect(await backupIds(ORG_B)).toHaveLength(1);
    // C keeps its only (old) backup, and nothing of its failed run is left in storage.
    expect(await backupIds(ORG_C)).toEqual([oldC.backupId]);
    expect((await stored(ORG_C)).filter((p) => p.includes("/2026-11-20/"))).toEqual([]);
  });
});
