/**
 * Pages of rows through the Supabase API end by bytes (BACKUP_PAGE_BYTES), not by a row count: a backup's
 * pages read (tenant_backup_snapshot_page), a restore's pages staged (tenant_backup_stage_page) and its
 * undo point's pages read back (tenant_backup_undo_read), counted at the fake PostgREST for a tenant of
 * known size. Many small rows take a few requests; a table of large rows still gets pages of about the
 * same bytes, none much larger. The restore brings every row back, so the large pages lose nothing.
 */
import type { SetupServer } from "msw/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backupTenant } from "../../lib/backup/tenant-backup.ts";
import { restoreTenant } from "../../lib/restore/restore-tenant.ts";
import { deadlineIn } from "../support/clock.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { type FakeSupabase, startFakeSupabase } from "../support/fake-supabase.ts";
import { createTestServices, type TestServices } from "../support/services.ts";
import type { RpcCall } from "./fake-postgrest.ts";

const PROJECT_URL = "https://pages-project.supabase.co";
const DATE = "2026-11-22";
const PAGE_BYTES = 512 * 1024;
/** Rows of the tenant's small table: about 2.6 MB of lines, 40 pages of 1,000 rows. */
const SMALL_ROWS = 40_000;
/** Rows of 200,000 characters each: 2.4 MB in all, two or three to a page. */
const LARGE_ROWS = 12;
const LARGE_CHARS = 200_000;

let db: TestDatabase;
let fake: FakeSupabase["fake"];
let server: SetupServer;
let services: TestServices;

/** One page's rows and bytes, as the request carried or the answer brought it. */
const sizeOf = (lines: string) => ({
  rows: lines === "" ? 0 : lines.split("\n").length,
  bytes: lines === "" ? 0 : Buffer.byteLength(lines) + 1,
});
/** Each line's bytes with its "\n", in order. */
const lineBytes = (lines: string) => lines.split("\n").map((l) => Buffer.byteLength(l) + 1);

beforeAll(async () => {
  db = await createTestDatabase("migrated");
  await db.owner.query(`
    create table organizations (id text primary key, name text);
    create table notes (id bigint primary key, organization_id text not null references organizations,
      body text not null);
    create table attachments (id bigint primary key, organization_id text not null references organizations,
      content text not null);
    insert into organizations values ('o1', 'One'), ('o2', 'Two');
    insert into notes select g, case when g <= ${SMALL_ROWS} then 'o1' else 'o2' end, 'note number ' || g || ', ' || md5(g::text)
      from generate_series(1, ${SMALL_ROWS + 100}) g;
    insert into attachments select g, 'o1', repeat(md5(g::text), ${LARGE_CHARS / 32})
      from generate_series(1, ${LARGE_ROWS}) g;`);
  const api = await startFakeSupabase(db, PROJECT_URL);
  ({ fake, server } = api);
  services = await createTestServices(db.url, {
    ...api.env,
    BACKUP_PAGE_BYTES: String(PAGE_BYTES),
    RESTORE_MIN_INTERVAL_SECONDS: "0",
  });
});

afterAll(async () => {
  server?.close();
  await services?.cleanup();
  await fake?.close();
  await db?.drop();
});

const callsOf = (fn: string, table: string) =>
  fake.calls.filter(
    (c): c is RpcCall & { args: Record<string, unknown> } => c.fn === fn && c.args?.p_table === table,
  );

/** Every page but the last ends with the row that reaches PAGE_BYTES: without it, the page was below. */
function expectEndedByBytes(pages: string[]) {
  pages.forEach((lines, i) => {
    const sizes = lineBytes(lines);
    const bytes = sizes.reduce((a, b) => a + b, 0);
    const beforeLast = bytes - (sizes.at(-1) as number);
    expect(beforeLast, `page ${i} goes on past the row that reached the bound`).toBeLessThan(PAGE_BYTES);
    if (i < pages.length - 1)
      expect(bytes, `page ${i} ended before the bound`).toBeGreaterThanOrEqual(PAGE_BYTES);
  });
}

describe("pages through the Supabase API, bounded by bytes", () => {
  let backupId = "";
  let smallBytes = 0;

  it("backs up many small rows in a few pages, and large rows in pages of about the same bytes", async () => {
    fake.reset();
    const result = await backupTenant(services, {
      tenantId: "o1",
      tenantName: null,
      type: "manual",
      date: DATE,
      deadline: deadlineIn(services),
    });
    expect(result.status).toBe("completed");
    backupId = result.backupId;
    expect(services.db.kind).toBe("supabase");

    const small = callsOf("tenant_backup_snapshot_page", "notes").map(
      (c) => JSON.parse(c.body).data as string,
    );
    const smallSizes = small.map(sizeOf);
    expect(smallSizes.reduce((n, s) => n + s.rows, 0)).toBe(SMALL_ROWS);
    smallBytes = smallSizes.reduce((n, s) => n + s.bytes, 0);
    expect(smallBytes).toBeGreaterThan(4 * PAGE_BYTES);
    // ceil(bytes / page) requests: 1,000-row pages would have taken 40.
    expect(small.length).toBeLessThanOrEqual(Math.ceil(smallBytes / PAGE_BYTES));
    expectEndedByBytes(small);

    const large = callsOf("tenant_backup_snapshot_page", "attachments").map(
      (c) => JSON.parse(c.body).data as string,
    );
    expect(large.map(sizeOf).reduce((n, s) => n + s.rows, 0)).toBe(LARGE_ROWS);
    expect(large.length).toBeGreaterThan(3);
    expectEndedByBytes(large);
    for (const lines of large) expect(sizeOf(lines).bytes).toBeLessThan(PAGE_BYTES + LARGE_CHARS + 100);
  });

  it("stages the restore in pages of up to BACKUP_PAGE_BYTES, reads its undo point back in few pages, and restores every row", async () => {
    const before = await db.client.query(
      "select md5(string_agg(n::text, ',' order by id)) as h from notes n",
    );
    await db.owner.query("delete from notes where organization_id = 'o1' and id % 7 = 0");
    fake.reset();
    const outcome = await restoreTenant(services, {
      tenantId: "o1",
      backupDate: DATE,
      backupId,
      dryRun: false,
      deadline: deadlineIn(services),
    });
    expect(outcome.status).toBe("done");
    if (outcome.status !== "done") return;
    expect(outcome.report.success, JSON.stringify(outcome.report.error)).toBe(true);
    const after = await db.client.query("select md5(string_agg(n::text, ',' order by id)) as h from notes n");
    expect(after.rows[0].h).toBe(before.rows[0].h);

    // Staged: files (and parts of files larger than a page) gathered up to the bound, so that a page and
    // the next are more than the bound together; a page passes the bound by one row at most.
    const staged = callsOf("tenant_backup_stage_page", "notes").map((c) => String(c.args.p_lines));
    const stagedSizes = staged.map(sizeOf);
    expect(stagedSizes.reduce((n, s) => n + s.rows, 0)).toBe(SMALL_ROWS);
    for (const lines of staged)
      expect(sizeOf(lines).bytes - (lineBytes(lines).at(-1) as number)).toBeLessThan(PAGE_BYTES);
    stagedSizes.slice(1).forEach((s, i) => {
      expect(s.bytes + (stagedSizes[i]?.bytes ?? 0), `pages ${i} and ${i + 1}`).toBeGreaterThan(PAGE_BYTES);
    });
    expect(staged.length).toBeLessThanOrEqual(2 * Math.ceil(smallBytes / PAGE_BYTES));

    // The undo point (the tenant as it was before the restore) read back: pages of 4 MB, one here.
    const undo = callsOf("tenant_backup_undo_read", "notes").map(
      (c) => JSON.parse(c.body) as { rows: number },
    );
    const undoRows = undo.reduce((n, p) => n + p.rows, 0);
    expect(undoRows).toBe(SMALL_ROWS - Math.floor(SMALL_ROWS / 7));
    expect(undo.length).toBe(1);
  });
});
