/**
 * The phases of tenant_backup_apply and their shared helpers (migration 20261201000001), each called on its
 * own on the restore app's schema, in a transaction rolled back after each test (the phases' temp tables
 * live until commit). The restore tests run them together through tenant_backup_apply.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestDatabase } from "../support/database.ts";
import { createAppDatabase } from "./app.ts";

let db: TestDatabase;
let planId: string;
let catalog: { tables: { name: string; scope: string }[]; foreign_keys: { name: string; table: string }[] };

/** One value from `select <sql>`. */
async function one<T = unknown>(sql: string, params: unknown[] = []): Promise<T> {
  return (await db.client.query(`select ${sql} as r`, params)).rows[0].r as T;
}

/** The SQLSTATE `sql` fails with (inside a savepoint, so the test's transaction goes on). */
async function sqlstate(sql: string, params: unknown[] = []): Promise<string> {
  await db.client.query("savepoint failing");
  try {
    await db.client.query(sql, params);
    return "ok";
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  } finally {
    await db.client.query("rollback to savepoint failing");
  }
}

/** Stages w1's rows of `table` exactly as a backup holds them: the export's own lines. */
async function stageW1(table: string): Promise<number> {
  const page = await one<{ rows: number; data: string }>(
    "public.tenant_backup_export_page($1, $2, 'w1', null, 100000)",
    [planId, table],
  );
  await one("public.tenant_backup_stage_page('r1', $1, 0, $2, $3)", [table, page.rows, page.data]);
  return page.rows;
}

/** The backup spec of a table: every stored column of the catalog, in its order. */
async function specOf(table: string, rowCount: number) {
  const entry = await one<{ columns: { name: string; type: string; generated: boolean }[] }>(
    "public.tenant_backup_plan_table(public.tenant_backup_plan_catalog($1), $2)",
    [planId, table],
  );
  const columns = entry.columns.filter((c) => !c.generated).map((c) => ({ name: c.name, type: c.type }));
  return { name: table, row_count: rowCount, columns };
}

/** Stages w1's `table` and runs the source and compare phases into temp table `src`: the table's entry. */
async function sourced(table: string, src: string) {
  const spec = await specOf(table, await stageW1(table));
  const stats = await one<Record<string, unknown>>(
    "public.tenant_backup_apply_source('r1', public.tenant_backup_plan_table(public.tenant_backup_plan_catalog($1), $2), $3, $4)",
    [planId, table, spec, src],
  );
  const compare = await one<Record<string, unknown>>(
    "public.tenant_backup_apply_compare(public.tenant_backup_plan_table(public.tenant_backup_plan_catalog($1), $2), $3)",
    [planId, table, JSON.stringify(stats.column_names)],
  );
  return { ...stats, ...compare };
}

const fkOf = (table: string, refTable: string) =>
  one<Record<string, unknown>>(
    "(select f from jsonb_array_elements(public.tenant_backup_plan_catalog($1)->'foreign_keys') f where f->>'table' = $2 and f->>'ref_table' = $3)",
    [planId, table, refTable],
  );

beforeAll(async () => {
  db = await createAppDatabase();
  const prepared = await one<typeof catalog & { plan_id: string }>(
    "public.tenant_backup_prepare('workspaces', 'workspace_id')",
  );
  planId = prepared.plan_id;
  catalog = prepared;
  expect(catalog.tables.map((t) => t.name)).toEqual(["workspaces", "contacts", "deals", "deal_notes"]);
});

afterAll(async () => {
  await db?.drop();
});

describe("each phase of the apply, called on its own", () => {
  const inTransaction = (name: string, test: () => Promise<void>) =>
    it(name, async () => {
      await db.client.query("begin");
      try {
        await test();
      } finally {
        await db.client.query("rollback");
      }
    });

  inTransaction("tenant_backup_plan_catalog answers the plan's catalog, P0002 for no plan", async () => {
    expect(await one("public.tenant_backup_plan_catalog($1)->'tables'->0->>'name'", [planId])).toBe(
      "workspaces",
    );
    expect(await sqlstate("select public.tenant_backup_plan_catalog('nope')")).toBe("P0002");
  });

  inTransaction(
    "tenant_backup_plan_table answers one table's entry with its scope, null for another",
    async () => {
      const deals = await one<{ name: string; scope: string }>(
        "public.tenant_backup_plan_table(public.tenant_backup_plan_catalog($1), 'deals')",
        [planId],
      );
      expect(deals.name).toBe("deals");
      expect(deals.scope).toBe(catalog.tables.find((t) => t.name === "deals")?.scope);
      expect(
        await one("public.tenant_backup_plan_table(public.tenant_backup_plan_catalog($1), 'audit_events')", [
          planId,
        ]),
      ).toBeNull();
    },
  );

  inTransaction(
    "tenant_backup_fk_join answers a foreign key's join condition, column by column",
    async () => {
      const fk = { columns: ["a_id", "Odd Name"], ref_columns: ["id", "k"] };
      expect(await one("public.tenant_backup_fk_join($1, 'p', 's')", [fk])).toBe(
        'p.id = s.a_id and p.k = s."Odd Name"',
      );
    },
  );

  inTransaction(
    "tenant_backup_add_ms adds the milliseconds since a time to a step, and starts new steps",
    async () => {
      const timings = await one<Record<string, number>>(
        `public.tenant_backup_add_ms('{"write": 5}', 'write', clock_timestamp() - interval '20 ms')`,
      );
      expect(timings.write).toBeGreaterThanOrEqual(25);
      expect(timings.write).toBeLessThan(5000);
      expect(
        await one(`public.tenant_backup_add_ms('{"write": 5}', 'delete', clock_timestamp())`),
      ).toMatchObject({
        write: 5,
        delete: expect.any(Number),
      });
    },
  );

  inTransaction(
    "tenant_backup_apply_order answers the tables in insert order, 22023 for one not of the plan",
    async () => {
      const spec = { tables: [{ name: "deal_notes" }, { name: "workspaces" }, { name: "deals" }] };
      expect(
        await one("public.tenant_backup_apply_order(public.tenant_backup_plan_catalog($1), $2)", [
          planId,
          spec,
        ]),
      ).toEqual(["workspaces", "deals", "deal_notes"]);
      expect(
        await sqlstate("select public.tenant_backup_apply_order(public.tenant_backup_plan_catalog($1), $2)", [
          planId,
          { tables: [{ name: "audit_events" }] },
        ]),
      ).toBe("22023");
    },
  );

  inTransaction("tenant_backup_apply_mode sets replica mode for the transaction when allowed", async () => {
    expect(await one("public.tenant_backup_apply_mode('triggers', 'public', array['contacts'])")).toEqual({
      mode: "triggers",
      warnings: [],
    });
    expect(await one("current_setting('session_replication_role')")).toBe("origin");
    expect(
      await sqlstate("select public.tenant_backup_apply_mode('fast', 'public', array['contacts'])"),
    ).toBe("22023");
    // The test connection is a superuser, which may set it (the fallback: tests/restore/replica-mode.test.ts).
    expect(await one("public.tenant_backup_apply_mode('auto', 'public', array['contacts'])")).toEqual({
      mode: "replica",
      warnings: [],
    });
    expect(await one("current_setting('session_replication_role')")).toBe("replica");
  });

  inTransaction(
    "tenant_backup_apply_dropped warns of backup columns gone from the table, or refuses with TB002",
    async () => {
      const table = "public.tenant_backup_plan_table(public.tenant_backup_plan_catalog($1), 'contacts')";
      const spec = { name: "contacts", columns: [{ name: "id" }, { name: "fax" }, { name: "full_name" }] };
      expect(await one(`public.tenant_backup_apply_dropped(${table}, $2, false)`, [planId, spec])).toEqual([
        "contacts: columns fax, full_name are in the backup but no longer in the table; their values are not restored",
      ]);
      expect(
        await sqlstate(`select public.tenant_backup_apply_dropped(${table}, $2, true)`, [planId, spec]),
      ).toBe("TB002");
      const kept = { name: "contacts", columns: [{ name: "id" }, { name: "email" }] };
      expect(await one(`public.tenant_backup_apply_dropped(${table}, $2, true)`, [planId, kept])).toEqual([]);
    },
  );

  inTransaction(
    "tenant_backup_apply_source turns staged lines into a typed temp table, checking the count",
    async () => {
      const rows = await stageW1("deals");
      const spec = await specOf("deals", rows);
      const table = "public.tenant_backup_plan_table(public.tenant_backup_plan_catalog($1), 'deals')";
      expect(
        await one(`public.tenant_backup_apply_source('r1', ${table}, $2, 'tb_src_x')`, [planId, spec]),
      ).toEqual({
        rows_in_backup: rows,
        columns: "id, workspace_id, contact_id, amount, stage",
        column_names: ["id", "workspace_id", "contact_id", "amount", "stage"],
      });
      // The same rows, typed: numeric amounts compare equal to the table's.
      expect(
        await one(
          "(select count(*)::int from tb_src_x s join deals d using (id, workspace_id, contact_id, amount, stage))",
        ),
      ).toBe(rows);
      expect(
        await sqlstate(`select public.tenant_backup_apply_source('r1', ${table}, $2, 'tb_src_y')`, [
          planId,
          { ...spec, row_count: rows + 1 },
        ]),
      ).toBe("TB004");
      expect(
        await sqlstate(`select public.tenant_backup_apply_source('r1', ${table}, $2, 'tb_src_z')`, [
          planId,
          { ...spec, columns: [{ name: "gone", type: "text" }] },
        ]),
      ).toBe("TB003");
    },
  );

  inTransaction(
    "tenant_backup_apply_compare answers the key join, the difference test and the columns to set",
    async () => {
      const table = "public.tenant_backup_plan_table(public.tenant_backup_plan_catalog($1), 'workspaces')";
      expect(await one(`public.tenant_backup_apply_compare(${table}, '["id", "name"]')`, [planId])).toEqual({
        join: "t0.id = s.id",
        cmp: "(t0.id::text, t0.name::text) is distinct from (s.id::text, s.name::text)",
        set: "name",
        set_from: "s.name",
      });
      expect(await one(`public.tenant_backup_apply_compare('{"primary_key": null}', '["a"]')`)).toEqual({});
    },
  );

  inTransaction(
    "tenant_backup_apply_old_keys keeps the referenced keys, and in triggers mode refuses outside references",
    async () => {
      const fk = await fkOf("deals", "contacts");
      const all = ["workspaces", "contacts", "deals", "deal_notes"];
      const w1Contacts = await one<number>("(select count(*)::int from contacts where workspace_id = 'w1')");
      expect(
        Number(
          await one(
            "public.tenant_backup_apply_old_keys(public.tenant_backup_plan_catalog($1), $2, $3, 'replica', 'w1', 'tb_old_x')",
            [planId, fk, all],
          ),
        ),
      ).toBe(w1Contacts);
      expect(await one("(select count(*)::int from tb_old_x)")).toBe(w1Contacts);
      // deals is left out of the restore, and w1's deals point at w1's contacts.
      expect(
        await sqlstate(
          "select public.tenant_backup_apply_old_keys(public.tenant_backup_plan_catalog($1), $2, $3, 'triggers', 'w1', 'tb_old_y')",
          [planId, fk, ["workspaces", "contacts"]],
        ),
      ).toBe("TB005");
    },
  );

  inTransaction(
    "tenant_backup_apply_rows updates what differs and inserts what is missing, firing triggers in triggers mode",
    async () => {
      const stats = await sourced("contacts", "tb_src_c");
      await db.client.query("update contacts set phone = 'changed' where id = 1");
      await db.client.query(
        "delete from deal_notes where deal_id in (select id from deals where contact_id = 2)",
      );
      await db.client.query("delete from deals where contact_id = 2");
      await db.client.query("delete from contacts where id = 2");
      await db.client.query(
        "insert into contacts (workspace_id, first_name, last_name, email) values ('w1', 'N', 'N', 'n@x')",
      );
      await db.client.query("truncate audit_events");
      const table = "public.tenant_backup_plan_table(public.tenant_backup_plan_catalog($1), 'contacts')";
      const written = await one<Record<string, number>>(
        `public.tenant_backup_apply_rows('write', 'triggers', 'public', ${table}, 'tb_src_c', $2, 'w1')`,
        [planId, stats],
      );
      expect(written).toMatchObject({ updated: 1, inserted: 1 });
      const deleted = await one<Record<string, number>>(
        `public.tenant_backup_apply_rows('delete', 'triggers', 'public', ${table}, 'tb_src_c', $2, 'w1')`,
        [planId, written],
      );
      expect(deleted).toMatchObject({ updated: 1, inserted: 1, deleted: 1 });
      // The audit trigger names audit_events without a schema: it ran on the app's search_path.
      expect(
        await one(
          "(select jsonb_object_agg(op, n) from (select op, count(*)::int n from audit_events group by op) x)",
        ),
      ).toEqual({
        INSERT: 1,
        UPDATE: 1,
        DELETE: 1,
      });
      expect(await one("(select phone from contacts where id = 1)")).not.toBe("changed");
      expect(await one("(select count(*)::int from contacts where email = 'n@x')")).toBe(0);
    },
  );

  inTransaction(
    "tenant_backup_apply_rows in replica mode deletes differing rows and writes them back whole",
    async () => {
      const stats = await sourced("workspaces", "tb_src_w");
      await db.client.query("set local session_replication_role = replica");
      await db.client.query("update workspaces set name = 'Renamed' where id = 'w1'");
      const table = "public.tenant_backup_plan_table(public.tenant_backup_plan_catalog($1), 'workspaces')";
      const deleted = await one<Record<string, number>>(
        `public.tenant_backup_apply_rows('delete', 'replica', 'public', ${table}, 'tb_src_w', $2, 'w1')`,
        [planId, stats],
      );
      expect(deleted).toMatchObject({ deleted: 0, updated: 1 });
      expect(await one("(select count(*)::int from workspaces where id = 'w1')")).toBe(0);
      const written = await one<Record<string, number>>(
        `public.tenant_backup_apply_rows('write', 'replica', 'public', ${table}, 'tb_src_w', $2, 'w1')`,
        [planId, deleted],
      );
      expect(written).toMatchObject({ deleted: 0, updated: 1, inserted: 0 });
      expect(await one("(select name from workspaces where id = 'w1')")).toBe("First");
    },
  );

  inTransaction(
    "tenant_backup_apply_check_fk finds restored rows without their parent, and keys that disappeared",
    async () => {
      const all = ["workspaces", "contacts", "deals", "deal_notes"];
      const fk = await fkOf("deals", "contacts");
      await one(
        "public.tenant_backup_apply_old_keys(public.tenant_backup_plan_catalog($1), $2, $3, 'replica', 'w1', 'tb_old_k')",
        [planId, fk, all],
      );
      // deals' restored rows (tb_src_3: third in insert order), all of whose contacts exist.
      await db.client.query("create temp table tb_src_3 as select * from deals where workspace_id = 'w1'");
      // Each call keeps the keys that disappeared in a temp table of its own: undo it before the next.
      await db.client.query("savepoint first_check");
      expect(
        Number(await one("public.tenant_backup_apply_check_fk('public', $1, $2, 'tb_old_k')", [fk, all])),
      ).toBe(0);
      await db.client.query("rollback to savepoint first_check");
      await db.client.query(
        "insert into tb_src_3 (id, workspace_id, contact_id, amount) values (99999, 'w1', 99999, 1)",
      );
      expect(
        await sqlstate("select public.tenant_backup_apply_check_fk('public', $1, $2, 'tb_old_k')", [fk, all]),
      ).toBe("23503");
      await db.client.query("delete from tb_src_3 where id = 99999");
      // A contact disappears that no restored deal points at, but a deal in the table still does (replica
      // mode: no cascade).
      await db.client.query("delete from tb_src_3 where contact_id = 1");
      await db.client.query(
        "set local session_replication_role = replica; delete from contacts where id = 1",
      );
      expect(
        await sqlstate("select public.tenant_backup_apply_check_fk('public', $1, $2, 'tb_old_k')", [fk, all]),
      ).toBe("TB005");
    },
  );

  inTransaction(
    "tenant_backup_apply_sequences moves sequences past the restored keys, never back",
    async () => {
      await db.client.query(
        "insert into contacts (id, workspace_id, first_name, last_name, email) overriding system value values (5000, 'w1', 'A', 'B', 'far@x')",
      );
      expect(
        await one(
          "public.tenant_backup_apply_sequences(public.tenant_backup_plan_catalog($1), array['contacts'])",
          [planId],
        ),
      ).toBe(1);
      expect(Number(await one("nextval(pg_get_serial_sequence('contacts', 'id'))"))).toBe(5001);
      expect(
        await one(
          "public.tenant_backup_apply_sequences(public.tenant_backup_plan_catalog($1), array['contacts'])",
          [planId],
        ),
      ).toBe(0);
    },
  );

  inTransaction("tenant_backup_apply_counts answers the per-table counts of the answer", async () => {
    const report = {
      keyed: { rows_in_backup: 5, inserted: 1, deleted: 2, updated: 1, join: "t0.id = s.id" },
      whole: { rows_in_backup: 3, inserted: 3, deleted: 4, updated: 0 },
      unreached: { rows_in_backup: 7 },
    };
    expect(await one("public.tenant_backup_apply_counts($1)", [report])).toEqual({
      keyed: { rows_in_backup: 5, rows_now: 6, would_insert: 1, would_delete: 2, would_change: 1 },
      whole: { rows_in_backup: 3, rows_now: 4, would_insert: 3, would_delete: 4, would_change: null },
      unreached: {
        rows_in_backup: 7,
        rows_now: 7,
        would_insert: null,
        would_delete: null,
        would_change: null,
      },
    });
  });

  inTransaction(
    "tenant_backup_apply_error answers the error object, without context for our own errors",
    async () => {
      expect(
        await one(
          "public.tenant_backup_apply_error('23503', 'm', '', 'h', 'deals', '', 'PL/pgSQL function x')",
        ),
      ).toEqual({
        sqlstate: "23503",
        message: "m",
        hint: "h",
        table: "deals",
        context: "PL/pgSQL function x",
      });
      expect(
        await one("public.tenant_backup_apply_error('TB005', 'm', null, null, 't', 'c', 'ctx')"),
      ).toEqual({
        sqlstate: "TB005",
        message: "m",
        table: "t",
        constraint: "c",
      });
    },
  );

  inTransaction("tenant_backup_restrict_functions leaves a function to the service role only", async () => {
    await db.client.query(
      "create function public.tenant_backup_later(p integer) returns integer language sql as 'select p'",
    );
    expect(
      await one("has_function_privilege('public', 'public.tenant_backup_later(integer)', 'execute')"),
    ).toBe(true);
    expect(await one("public.tenant_backup_restrict_functions(array['tenant_backup_later'])")).toEqual([
      "public.tenant_backup_later(integer)",
    ]);
    expect(
      await one("has_function_privilege('public', 'public.tenant_backup_later(integer)', 'execute')"),
    ).toBe(false);
  });
});
