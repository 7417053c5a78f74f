/**
 * Where the tenant has rows, a restore types the staged lines the tenant does not have with the query of
 * tenant_backup_changed_rows_sql: each line parsed into jsonb once per row, whatever the number of columns
 * (PostgreSQL would otherwise pull the subquery up and parse the line once per column: 357 s instead of
 * 43 s for 50,000 rows of 200 columns; 20261212000100). Checked on the plan, which does not depend on the
 * machine's speed, and on the rows the query answers.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

let db: TestDatabase;

const COLUMNS = 6;
const columns = Array.from({ length: COLUMNS }, (_, i) => i);
const casts = columns
  .map((i) => (i % 2 === 0 ? `(x.r->>${i})::bigint as c${i}` : `(x.r->>${i})::text as c${i}`))
  .join(", ");
/** Column i of line n: a number in the even columns, a text in the others. */
const value = (n: number, i: number) => (i % 2 === 0 ? String(n * 10 + i) : `v${n}.${i}`);
const lineOf = (n: number) => JSON.stringify(columns.map((i) => value(n, i)));

beforeAll(async () => {
  db = await createTestDatabase("migrated");
});

afterAll(async () => {
  await db?.drop();
});

describe("the query typing changed lines", () => {
  it("parses each line into jsonb once, not once per column, and answers the lines the tenant lacks", async () => {
    const client = db.client;
    await client.query("begin");
    try {
      await client.query("create temp table tb_lines (h uuid, line text)");
      await client.query("create temp table tb_live (tb_h uuid)");
      for (const n of [1, 2, 3]) {
        await client.query("insert into tb_lines values (md5($1)::uuid, $1)", [lineOf(n)]);
      }
      // The tenant has line 2 as it is: only 1 and 3 are rows to write.
      await client.query("insert into tb_live values (md5($1)::uuid)", [lineOf(2)]);
      const { rows } = await client.query<{ sql: string }>(
        "select public.tenant_backup_changed_rows_sql($1, 'tb_lines', 'tb_live') as sql",
        [casts],
      );
      const sql = rows[0]?.sql as string;

      const plan = await client.query<{ "QUERY PLAN": string }>(`explain (verbose, costs off) ${sql}`);
      const text = plan.rows.map((r) => r["QUERY PLAN"]).join("\n");
      expect(text.match(/::jsonb/g), text).toHaveLength(1);

      const typed = await client.query(`${sql} order by c0`);
      expect(typed.rows).toEqual(
        [1, 3].map((n) => Object.fromEntries(columns.map((i) => [`c${i}`, value(n, i)]))),
      );
    } finally {
      await client.query("rollback");
    }
  });
});
