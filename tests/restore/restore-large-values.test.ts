/**
 * Rows holding 5 MB values (jsonb and bytea) go through a backup and a real restore exactly: each is one
 * line of many chunks in the backup's reader and the restore's, split and joined back to the byte. The
 * undo point the restore captures keeps them in pages of a few MB, not one page of every row. On a direct
 * connection no such value travels inside a query parameter or a jsonb answer (each copied several times
 * on the way): staged pages go in, and undo points come out, by COPY.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SqlFunctionCaller } from "../../lib/db/port.ts";
import { utcDay } from "../../lib/time.ts";
import type { TestDatabase } from "../support/database.ts";
import { createTestServices, type TestServices } from "../support/services.ts";
import { snapshot } from "../support/snapshot.ts";
import { APP_ENV, BACKUP_DATE, backup, createAppDatabase, restore } from "./app.ts";

let db: TestDatabase;
let services: TestServices;

const W1_FILES = "(select * from attachments where workspace_id = 'w1')";
const OTHER_FILES = "(select * from attachments where workspace_id <> 'w1')";

beforeAll(async () => {
  db = await createAppDatabase();
  // About 5 MB each: a jsonb document whose strings need escaping and hold multi-byte characters, and
  // bytes of every value.
  await db.owner.query(`
    create table attachments (
      id bigint primary key,
      workspace_id text not null references workspaces (id),
      doc jsonb not null,
      body bytea not null
    );
    insert into attachments
    select i, w,
      jsonb_build_object('n', i, 'text', repeat(E'line "é€" \\\\ tab\\t end\\n', 200000 + i)),
      (select string_agg(decode(lpad(to_hex((g * 7 + i) % 256), 2, '0'), 'hex'), ''::bytea)
         from generate_series(1, 5000000 + i) g)
    from (values (1, 'w1'), (2, 'w1'), (3, 'w2')) v(i, w);`);
  services = await createTestServices(db.url, APP_ENV);
}, 120_000);

afterAll(async () => {
  await services?.cleanup();
  await db?.drop();
});

describe("rows holding 5 MB values", () => {
  it("come back exactly after they were changed and deleted", async () => {
    const sizes = await db.client.query(
      "select min(octet_length(doc::text)) as doc, min(octet_length(body)) as body from attachments",
    );
    expect(Number(sizes.rows[0].doc)).toBeGreaterThan(5_000_000);
    expect(Number(sizes.rows[0].body)).toBeGreaterThan(5_000_000);
    const original = await snapshot(db.client, [W1_FILES, OTHER_FILES]);

    const made = await backup(services, "w1");
    expect(made.manifest.tables.find((t) => t.name === "attachments")?.row_count).toBe(2);

    await db.client.query(
      "update attachments set body = body || '\\x00'::bytea, doc = doc || '{\"x\": 1}' where id = 1",
    );
    await db.client.query("delete from attachments where id = 2");
    const changed = await snapshot(db.client, [W1_FILES, OTHER_FILES]);
    expect(changed[W1_FILES]).not.toBe(original[W1_FILES]);

    const real = await restore(services, { organization_id: "w1", backup_date: BACKUP_DATE, dry_run: false });
    expect(real.status, JSON.stringify(real.body)).toBe(200);
    expect(real.body.tables.attachments).toMatchObject({ would_insert: 1, would_change: 1 });
    expect(await snapshot(db.client, [W1_FILES, OTHER_FILES])).toEqual(original);

    // The undo point holds the rows as they were before the restore, exactly.
    const undo = await restore(services, {
      organization_id: "w1",
      backup_date: utcDay(services.now()),
      backup_id: real.body.summary.undo_backup_id,
      dry_run: false,
    });
    expect(undo.status, JSON.stringify(undo.body)).toBe(200);
    expect(await snapshot(db.client, [W1_FILES, OTHER_FILES])).toEqual(changed);
  }, 180_000);

  it("are captured for an undo point in pages of at most 4 MB plus one row", async () => {
    const { plan_id } = await services.db.catalog();
    await db.client.query("begin");
    try {
      await db.client.query(
        "insert into attachments select 10 + g, 'w1', doc, body from attachments, generate_series(1, 2) g where id = 3",
      );
      const { rows: count } = await db.client.query(
        "select count(*)::int as n from attachments where workspace_id = 'w1'",
      );
      expect(count[0].n).toBe(3);
      await db.client.query("select public.tenant_backup_apply_capture($1, 'w1', 'probe')", [plan_id]);
      const { rows } = await db.client.query(
        `select page, row_count, octet_length(lines) as bytes from tenant_backup_undo
         where capture_id = 'probe' and table_name = 'attachments' order by page`,
      );
      expect(rows.map((r) => [r.page, r.row_count])).toEqual([
        [0, 1],
        [1, 1],
        [2, 1],
      ]);
      for (const r of rows) expect(Number(r.bytes)).toBeLessThan(4 * 1024 * 1024 + 20_000_000);
    } finally {
      await db.client.query("rollback");
    }
  });

  it("travel by COPY on a direct connection: no SQL call carries or answers 1 MB", async () => {
    const caller = services.db.caller as SqlFunctionCaller;
    const call = caller.call;
    const copyIn = caller.copyIn as NonNullable<SqlFunctionCaller["copyIn"]>;
    const sizeOf = (v: unknown) =>
      Buffer.isBuffer(v) ? v.length : typeof v === "string" ? v.length : (JSON.stringify(v) ?? "").length;
    const calls: { name: string; sent: number; answered: number }[] = [];
    const staged: { rows: number; bytes: number }[] = [];
    caller.call = async <T>(name: string, args: Record<string, unknown>) => {
      const answer = await call.call(caller, name, args);
      calls.push({ name, sent: Math.max(0, ...Object.values(args).map(sizeOf)), answered: sizeOf(answer) });
      return answer as T;
    };
    caller.copyIn = (statement, data, before) => {
      // [head, …page, end]: the page's bytes, and its row count from the head (…\x02rows\x02\x01).
      const head = Buffer.from(data[0] as Uint8Array).toString("utf8");
      const bytes = data.slice(1, -1).reduce((n, b) => n + b.byteLength, 0);
      staged.push({ rows: Number(head.split("\x02")[3]), bytes });
      return copyIn.call(caller, statement, data, before);
    };
    try {
      const made = await backup(services, "w1", "2026-11-21");
      // A change, so that the restore writes the table and its undo point holds the table's rows.
      await db.client.query("update attachments set doc = doc || '{\"y\": 1}' where workspace_id = 'w1'");
      const real = await restore(services, {
        organization_id: "w1",
        backup_date: "2026-11-21",
        backup_id: made.backupId,
        dry_run: false,
      });
      expect(real.status, JSON.stringify(real.body)).toBe(200);
      expect(real.body.summary.undo_backup_id).toBeTruthy();
    } finally {
      caller.call = call;
      caller.copyIn = copyIn;
    }
    const largest = calls.reduce((a, c) =>
      Math.max(c.sent, c.answered) > Math.max(a.sent, a.answered) ? c : a,
    );
    expect(Math.max(largest.sent, largest.answered), largest.name).toBeLessThan(1024 * 1024);
    expect(calls.some((c) => c.name === "tenant_backup_undo_pages_query")).toBe(true);
    expect(calls.some((c) => c.name === "tenant_backup_undo_read")).toBe(false);
    // Each of w1's rows (over 10 MB of line) staged as a page of its own, by COPY.
    expect(staged.map((p) => p.rows).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(2);
    for (const page of staged.filter((p) => p.bytes > 1024 * 1024)) expect(page.rows).toBe(1);
  }, 180_000);
});
