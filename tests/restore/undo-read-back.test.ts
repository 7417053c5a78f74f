/**
 * An undo point waiting in the database, read back on a direct connection: its stored pages (at most 4 MB
 * plus one row each) streamed through COPY's binary format (tenant_backup_undo_pages_query) give, from any
 * row a resumed run may start at, the same lines as the page-per-call read of the PostgREST path
 * (tenant_backup_undo_read), across page boundaries; stored whole, the undo point restores the tenant
 * exactly as it was.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dayOfBackupId } from "../../lib/backup/paths.ts";
import type { TestDatabase } from "../support/database.ts";
import { createTestServices, type TestServices } from "../support/services.ts";
import {
  APP_ENV,
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
  // About 8 MB of w1's contacts: their undo point takes two pages or more (a page ends past 4 MB).
  await db.owner.query(`insert into contacts (workspace_id, first_name, last_name, email)
    select 'w1', 'Bulk é€', repeat('x', 600) || i, 'bulk' || i || '@example.com'
    from generate_series(1, 12000) i`);
  services = await createTestServices(db.url, APP_ENV);
}, 60_000);

afterAll(async () => {
  await services?.cleanup();
  await db?.drop();
});

const q = (sql: string, values: unknown[] = []) => db.client.query(sql, values);

/** The captured rows of contacts after the first `after`, read a stored page per call. */
async function pagedLines(undoId: string, after: number): Promise<string[]> {
  const lines: string[] = [];
  let at = after;
  for (;;) {
    const page = await services.db.undoRead(undoId, "contacts", at);
    const rows = page.rows > 0 ? page.lines.split("\n").slice(at - page.first) : [];
    lines.push(...rows);
    at += rows.length;
    if (page.done || page.rows === 0) return lines;
  }
}

/** The same, streamed. */
async function streamedLines(undoId: string, after: number): Promise<string[]> {
  const parts: Buffer[] = [];
  for await (const part of await services.db.undoStream(undoId, "contacts", after))
    parts.push(part as Buffer);
  const text = Buffer.concat(parts).toString("utf8");
  expect(text === "" || text.endsWith("\n")).toBe(true);
  return text === "" ? [] : text.slice(0, -1).split("\n");
}

describe("an undo point read back on a direct connection", () => {
  it("streams its stored pages as the paged read gives them, from any row, and restores the state before", {
    timeout: 120_000,
  }, async () => {
    const restored = await backup(services, "w1");
    await q("update contacts set phone = 'changed' where workspace_id = 'w1' and id % 50 = 0");
    const changed = await workspaceSnapshot(db.client, "= 'w1'");

    // The call ends right after the apply commits, before storing its undo point begins: it waits.
    const outcome = await withUndoLeftWaiting(services, () => restoreById(services, "w1", restored.backupId));
    expect(outcome.status === "done" && outcome.report.success, JSON.stringify(outcome)).toBe(true);
    const undoId = outcome.status === "done" ? (outcome.undoBackupId as string) : "";

    const { rows: pages } = await q(
      `select row_count, octet_length(lines) as bytes from tenant_backup_undo
       where capture_id = $1 and table_name = 'contacts' and page >= 0 order by page`,
      [undoId],
    );
    // Pages of at most 4 MB plus the row that reaches it (these rows are under 1 KB).
    expect(pages.length).toBeGreaterThanOrEqual(2);
    for (const page of pages) expect(page.bytes).toBeLessThan(4 * 1024 * 1024 + 1024);
    const firstPage = pages[0].row_count as number;
    const total = pages.reduce((n, p) => n + (p.row_count as number), 0);
    expect(total).toBe(
      (await q("select count(*)::int as n from contacts where workspace_id = 'w1'")).rows[0].n,
    );

    const starts = [0, 1, firstPage - 1, firstPage, firstPage + 1, total - 1, total, total + 3];
    for (const after of starts) {
      const paged = await pagedLines(undoId, after);
      expect(paged.length, `from row ${after}`).toBe(Math.max(total - after, 0));
      expect(await streamedLines(undoId, after), `from row ${after}`).toEqual(paged);
    }

    // Stored as the next restore stores it: restoring it gives back the tenant as it was.
    expect((await storeWaitingUndo(services, "w1", undoId)).status).toBe("completed");
    const back = await restoreById(services, "w1", undoId, dayOfBackupId(undoId));
    expect(back.status === "done" && back.report.success, JSON.stringify(back)).toBe(true);
    expect(await workspaceSnapshot(db.client, "= 'w1'")).toEqual(changed);
  });
});
