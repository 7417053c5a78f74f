/**
 * The apply's temp tables (migration 20261204000200): each is a file created and removed, so that a restore
 * of many tables paid for files per table. Small tables left as they were, or restored into an emptied
 * tenant, now make none; the restore stays exact and so does its undo point. Called as tenant_backup_apply
 * calls it, on the restore app's schema (four small tables), inside a transaction rolled back after each
 * test, so that the temp relations can be counted before commit drops them.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestDatabase } from "../support/database.ts";
import { APP_TABLES, createAppDatabase } from "./app.ts";

let db: TestDatabase;
let planId: string;
let tables: { name: string; scope: string; columns: { name: string; type: string; generated: boolean }[] }[];

async function one<T = unknown>(sql: string, params: unknown[] = []): Promise<T> {
  return (await db.client.query(`select ${sql} as r`, params)).rows[0].r as T;
}

/** w1's rows of every table, each table's lines as a backup holds them (joined by "\n"). */
async function exported(): Promise<Record<string, string>> {
  const lines: Record<string, string> = {};
  for (const table of APP_TABLES) {
    const page = await one<{ data: string }>("public.tenant_backup_export_page($1, $2, 'w1', null, 100000)", [
      planId,
      table,
    ]);
    lines[table] = page.data;
  }
  return lines;
}

/** Stages `lines` as restore r1 and answers the apply's spec for them (no backup entry to reuse). */
async function stage(lines: Record<string, string>) {
  const specs = [];
  for (const table of tables) {
    const rows = lines[table.name] === "" ? 0 : (lines[table.name] ?? "").split("\n").length;
    await one("public.tenant_backup_stage_page('r1', $1, 0, $2, $3)", [table.name, rows, lines[table.name]]);
    const columns = table.columns.filter((c) => !c.generated).map((c) => ({ name: c.name, type: c.type }));
    specs.push({ name: table.name, row_count: rows, columns });
  }
  return { tables: specs, mode: "replica" };
}

/** The real apply, with undo point `capture`; answers its report. */
async function apply(spec: unknown, capture: string) {
  const report = await one<{
    success: boolean;
    error: unknown;
    tables: Record<string, Record<string, number>>;
  }>("public.tenant_backup_apply_undo('r1', $1, 'w1', $2, false, $3)", [
    planId,
    JSON.stringify(spec),
    capture,
  ]);
  expect(report.error).toBeNull();
  expect(report.success).toBe(true);
  return report;
}

/** Temp tables (each a file) and temp views of this transaction. */
async function tempRelations() {
  const { rows } = await db.client.query(
    `select count(*) filter (where relkind = 'r')::int as tables, count(*) filter (where relkind = 'v')::int as views
     from pg_class where relnamespace = pg_my_temp_schema()`,
  );
  return rows[0] as { tables: number; views: number };
}

/** Undo point `capture`'s lines of each table, pages joined in their order. */
async function undoLines(capture: string): Promise<Record<string, string>> {
  const { rows } = await db.client.query(
    `select table_name, string_agg(lines, E'\\n' order by page) as lines from public.tenant_backup_undo
     where capture_id = $1 and page >= 0 group by table_name`,
    [capture],
  );
  return Object.fromEntries(rows.map((r) => [r.table_name, r.lines]));
}

beforeAll(async () => {
  db = await createAppDatabase();
  const prepared = await one<{ plan_id: string; tables: typeof tables }>(
    "public.tenant_backup_prepare('workspaces', 'workspace_id')",
  );
  planId = prepared.plan_id;
  tables = prepared.tables;
});

afterAll(async () => {
  await db?.drop();
});

describe("the apply's temp tables", () => {
  it("makes none per table for small tables left as they were, and keeps them and their undo point exact", async () => {
    await db.client.query("begin");
    try {
      const before = await exported();
      const report = await apply(await stage(before), "cap-same");
      for (const table of APP_TABLES) {
        expect(report.tables[table]).toMatchObject({ would_insert: 0, would_delete: 0, would_change: 0 });
      }
      // One temp table of no rows for the whole apply, which its views read so as to go at commit.
      expect(await tempRelations()).toMatchObject({ tables: 1 });
      expect(await exported()).toEqual(before);
      expect(await undoLines("cap-same")).toEqual(before);
    } finally {
      await db.client.query("rollback");
    }
  });

  it("makes none per table restoring small tables into an emptied tenant, and restores them exactly", async () => {
    await db.client.query("begin");
    try {
      const before = await exported();
      const spec = await stage(before);
      await db.client.query("set local session_replication_role = replica");
      for (const table of [...tables].reverse()) {
        await db.client.query(`delete from public.${table.name} t0 where ${table.scope}`, ["w1"]);
      }
      expect(Object.values(await exported()).every((lines) => lines === "")).toBe(true);
      const report = await apply(spec, "cap-empty");
      for (const table of APP_TABLES) {
        const rows = before[table]?.split("\n").length;
        expect(report.tables[table]).toMatchObject({ rows_now: 0, would_insert: rows, would_delete: 0 });
      }
      expect(await tempRelations()).toMatchObject({ tables: 1 });
      expect(await exported()).toEqual(before);
    } finally {
      await db.client.query("rollback");
    }
  });

  it("still compares a changed table row by row: only the changed rows are written, the undo point is as before", async () => {
    await db.client.query("begin");
    try {
      const backedUp = await exported();
      const spec = await stage(backedUp);
      await db.client.query(
        "update contacts set first_name = first_name || ' (edited)' where workspace_id = 'w1' and id % 5 = 0",
      );
      const edited = await exported();
      const report = await apply(spec, "cap-changed");
      expect(report.tables.contacts).toMatchObject({ would_insert: 0, would_delete: 0, would_change: 8 });
      expect(report.tables.deals).toMatchObject({ would_insert: 0, would_delete: 0, would_change: 0 });
      expect(await exported()).toEqual(backedUp);
      expect(await undoLines("cap-changed")).toEqual(edited);
    } finally {
      await db.client.query("rollback");
    }
  });
});
