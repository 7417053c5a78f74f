/**
 * On the paged (PostgREST) path a backup reads the run's copy of the tenant, over any number of calls. A
 * small tenant's run saves its progress and renews its lease once for the whole tenant, not once per part
 * (each is a request to Supabase); a run the time budget cuts saves where it stopped, and the next call
 * continues from there without reading a part again.
 */
import { http } from "msw";
import type { SetupServer } from "msw/node";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { backupTenant } from "../../lib/backup/tenant-backup.ts";
import { installSmallApp, ORG_A, ORG_B } from "../operations/small-app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { type FakeSupabase, startFakeSupabase } from "../support/fake-supabase.ts";
import { createTestServices, type TestServices } from "../support/services.ts";

const PROJECT_URL = "https://paged-project.supabase.co";
const DATE = "2026-12-01";

let db: TestDatabase;
let fake: FakeSupabase["fake"];
let server: SetupServer;
let services: TestServices;

beforeAll(async () => {
  db = await createTestDatabase("migrated");
  await installSmallApp(db.owner);
  const api = await startFakeSupabase(db, PROJECT_URL);
  ({ fake, server } = api);
  services = await createTestServices(db.url, {
    ...api.env,
    // Several pages and parts per table.
    BACKUP_PAGE_ROWS: "3",
    BACKUP_LAYOUT: "files",
    BACKUP_MAX_FILE_BYTES: "200",
  });
});

beforeEach(() => {
  fake.reset();
  server.resetHandlers();
});

afterAll(async () => {
  server?.close();
  await services?.cleanup();
  await db?.drop();
});

const callsOf = (fn: string) => fake.calls.filter((c) => c.fn === fn);

describe("a backup on the paged path", () => {
  it("renews its lease and saves its progress in one call, once for a small tenant, not once per part", async () => {
    expect(services.db.kind).toBe("supabase");
    const result = await backupTenant(services, {
      tenantId: ORG_A,
      tenantName: null,
      type: "manual",
      date: DATE,
      deadline: services.now().getTime() + 3_600_000,
    });
    if (result.status !== "completed") throw new Error("the backup did not complete");
    const parts = result.manifest.tables.flatMap((t) => t.files).length;
    expect(parts).toBeGreaterThan(result.tables);
    expect(callsOf("tenant_backup_snapshot_page").length).toBeGreaterThan(parts);
    // Once when the copy is taken, once before the summary: each time the lease renewed in the same call.
    expect(callsOf("tenant_backup_run_save")).toHaveLength(2);
    expect(callsOf("tenant_backup_run_progress")).toHaveLength(0);
    expect(callsOf("tenant_backup_lock_renew")).toHaveLength(0);
  });

  it("saves where the time budget stopped it, and the next call reads no part again", async () => {
    // Every page read moves the clock 2 s on (far less than a third of the lease): the first call stops after
    // its first part, which only the save at the stop keeps.
    server.use(
      http.post(`${PROJECT_URL}/rest/v1/rpc/tenant_backup_snapshot_page`, () => {
        services.clock.advance(2_000);
      }),
    );
    const first = await backupTenant(services, {
      tenantId: ORG_B,
      tenantName: null,
      type: "manual",
      date: DATE,
      deadline: services.now().getTime() + 1_000,
    });
    expect(first.status).toBe("incomplete");
    const pagesFirst = callsOf("tenant_backup_snapshot_page");
    server.resetHandlers();
    const second = await backupTenant(services, {
      tenantId: ORG_B,
      tenantName: null,
      type: "manual",
      date: DATE,
      deadline: services.now().getTime() + 3_600_000,
      resumeBackupId: first.backupId,
    });
    if (second.status !== "completed") throw new Error("the backup did not complete");

    // Each table the second call reads starts after the rows the first one stored of it; a table the
    // first one finished is not read again.
    const pagesSecond = callsOf("tenant_backup_snapshot_page").slice(pagesFirst.length);
    const rowsOf = (pages: typeof pagesFirst, table: unknown) =>
      pages
        .filter((c) => c.args?.p_table === table)
        .reduce((n, c) => n + (JSON.parse(c.body) as { rows: number }).rows, 0);
    const finished = pagesFirst[0]?.args?.p_table;
    expect(rowsOf(pagesFirst, finished)).toBeGreaterThan(0);
    expect(pagesSecond.some((c) => c.args?.p_table === finished)).toBe(false);
    const tables = [...new Set(pagesSecond.map((c) => c.args?.p_table))];
    expect(tables.length).toBeGreaterThan(0);
    for (const table of tables) {
      const firstPage = pagesSecond.find((c) => c.args?.p_table === table);
      expect(firstPage?.args?.p_after, String(table)).toBe(rowsOf(pagesFirst, table));
    }
    const { rows } = await db.client.query(
      `select (select count(*) from notes where organization_id = $1)
            + (select count(*) from profiles where organization_id = $1) + 1 as n`,
      [ORG_B],
    );
    expect(second.manifest.total_records).toBe(Number(rows[0].n));
  });
});
