/**
 * Backup → change → restore on a schema of our own with every awkward type (tests/fixtures/awkward-*.sql
 * plus restore-types.sql): the tenant gets its data back to the byte, the other tenants keep their
 * changes made since the backup, rows keyed by composite keys and grandchildren through composite foreign
 * keys come back, and generated columns are recomputed rather than read from the backup.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { createTestServices, type TestServices } from "../support/services.ts";
import { snapshot } from "../support/snapshot.ts";
import { BACKUP_DATE, backup, fixture, restore, restoreLogs } from "./app.ts";

let db: TestDatabase;
let services: TestServices;

/** Each tenant table and the column that names a row's tenant. */
const TENANT_COLUMN: Record<string, string> = {
  tenants: "id",
  accounts: "tenant_id",
  oddities: "tenant_id",
  more_oddities: "tenant_id",
  entries: "tenant_id_ref",
  entry_notes: "tenant_id_ref",
};

/** Snapshot of the rows of every tenant table whose tenant matches `predicate` (e.g. "= 1", "<> 1"). */
function tenantSnapshot(predicate: string) {
  return snapshot(
    db.client,
    Object.entries(TENANT_COLUMN).map(
      ([table, column]) => `(select * from ${table} where ${column} ${predicate})`,
    ),
  );
}

beforeAll(async () => {
  db = await createTestDatabase("migrated");
  await db.owner.query(fixture("awkward-schema.sql"));
  await db.owner.query(fixture("awkward-data.sql"));
  await db.owner.query(fixture("restore-types.sql"));
  // Small pages and parts: the restore reads many files per table.
  services = await createTestServices(db.url, {
    TENANT_ROOT_TABLE: "tenants",
    TENANT_KEY: "tenant_id",
    BACKUP_PAGE_ROWS: "400",
    BACKUP_MAX_FILE_BYTES: "32768",
  });
});

afterAll(async () => {
  await services?.cleanup();
  await db?.drop();
});

/** Changes tenant 1 in every way a restore must undo; answers what the dry run must report for entries. */
async function changeTenantOne() {
  const q = async (sql: string) => (await db.owner.query(sql)).rowCount ?? 0;
  // Every column of the three special rows gets another value.
  await q(`update oddities set big = 0, exact = 1, f8 = 0, f4 = 0, ts = now(), d = current_date, iv = '1 day',
             raw = '\\x01', tags = '{x}', grid = '{1}', doc = '{}', doc_json = '{}', feeling = 'happy',
             note = 'changed', flag = null, uid = null
           where id in (select id from oddities where tenant_id = 1 order by id limit 3)`);
  // Values that compare equal but print differently: -0 becomes 0, a numeric gains trailing zeros.
  await q("update oddities set exact = round(exact, 30) where tenant_id = 1 and note in ('row 1', 'row 2')");
  await q(
    `delete from oddities where id in (select id from oddities where tenant_id = 1 order by id offset 500 limit 100)`,
  );
  await q(
    `insert into oddities (tenant_id, big, note) select 1, i, 'new ' || i from generate_series(1, 50) i`,
  );
  await q(`update more_oddities set "Mixed Case" = 'changed', period = 'empty', cost = row('GBP', 1), multi = '{}',
             addr = '10.1.1.1', spot = '(9,9)', moods = '{sad}', docs = '{}', cash = 0, fixed = 'zz'
           where id = '00000000-0000-0000-0000-0000000000a1'`);
  await q("delete from more_oddities where id = '00000000-0000-0000-0000-0000000000a2'");
  await q(
    "insert into more_oddities (id, tenant_id, pos) values ('00000000-0000-0000-0000-0000000000c1', 1, 5)",
  );
  await q("update tenants set name = 'One, renamed' where id = 1");

  // Composite keys: an account goes with its entries and their notes, another comes; entries change.
  let deletedEntries = 0;
  let deletedNotes = await q("delete from entry_notes where tenant_id_ref = 1 and account_no = 30");
  deletedEntries += await q("delete from entries where tenant_id_ref = 1 and account_no = 30");
  await q("delete from accounts where tenant_id = 1 and account_no = 30");
  deletedNotes += await q("delete from entry_notes where tenant_id_ref = 1 and account_no = 1 and seq <= 10");
  deletedEntries += await q("delete from entries where tenant_id_ref = 1 and account_no = 1 and seq <= 10");
  await q("insert into accounts values (1, 31, 'us')");
  const insertedEntries = await q("insert into entries select 1, 31, s, s from generate_series(1, 5) s");
  const insertedNotes = await q(
    "insert into entry_notes (tenant_id_ref, account_no, seq, body) select 1, 31, s, 'fresh' from generate_series(1, 5) s",
  );
  const changedEntries = await q(
    "update entries set amount = amount + 1 where tenant_id_ref = 1 and account_no = 2",
  );
  const changedNotes = await q(
    "update entry_notes set body = body || '!' where tenant_id_ref = 1 and account_no = 3",
  );
  return {
    entries: { would_insert: deletedEntries, would_delete: insertedEntries, would_change: changedEntries },
    entry_notes: { would_insert: deletedNotes, would_delete: insertedNotes, would_change: changedNotes },
  };
}

/** Changes made to the other tenants after the backup: a restore of tenant 1 must keep them. */
async function changeOtherTenants() {
  await db.client.query(
    "update oddities set note = 'two changed' where tenant_id = 2 and note like 'row 1%'",
  );
  await db.client.query("insert into accounts values (2, 31, null), (9007199254740993, 31, 'eu')");
  await db.client.query("insert into entries values (2, 31, 1, 1.50)");
  await db.client.query("update more_oddities set pos = 99 where tenant_id = 2");
  await db.client.query("delete from entry_notes where tenant_id_ref = 9007199254740993 and account_no = 4");
}

describe("restore of a schema with every awkward type", () => {
  it("brings back every value exactly, composite keys and grandchildren included, and no other tenant's", async () => {
    const original = await tenantSnapshot("= 1");
    const regions = await snapshot(db.client, ["regions"]);
    const made = await backup(services, "1");
    const oddities = made.manifest.tables.find((t) => t.name === "oddities");
    expect(oddities?.files.length).toBeGreaterThan(1);

    const expected = await changeTenantOne();
    await changeOtherTenants();
    const othersChanged = await tenantSnapshot("<> 1");
    const changed = await tenantSnapshot("= 1");
    expect(Object.keys(changed).filter((k) => changed[k] !== original[k])).toHaveLength(6);

    const dry = await restore(services, { organization_id: "1", backup_date: BACKUP_DATE, dry_run: true });
    expect(dry.status, JSON.stringify(dry.body)).toBe(200);
    expect(dry.body.success, JSON.stringify(dry.body.summary.errors)).toBe(true);
    expect(dry.body.tables.entries).toMatchObject(expected.entries);
    expect(dry.body.tables.entry_notes).toMatchObject(expected.entry_notes);
    expect(dry.body.tables.accounts).toMatchObject({ would_insert: 1, would_delete: 1, would_change: 0 });
    expect(dry.body.tables.more_oddities).toMatchObject({
      would_insert: 1,
      would_delete: 1,
      would_change: 1,
    });
    expect(dry.body.tables.oddities).toMatchObject({ would_insert: 100, would_delete: 50, would_change: 5 });
    expect(await tenantSnapshot("= 1")).toEqual(changed);

    const real = await restore(services, { organization_id: "1", backup_date: BACKUP_DATE, dry_run: false });
    expect(real.status, JSON.stringify(real.body)).toBe(200);
    expect(real.body.summary.total_records_restored).toBe(made.records);
    expect(await tenantSnapshot("= 1")).toEqual(original);
    expect(await tenantSnapshot("<> 1")).toEqual(othersChanged);
    expect(await snapshot(db.client, ["regions"])).toEqual(regions);
    expect(await restoreLogs(db.client)).toEqual([
      [true, "completed"],
      [false, "completed"],
    ]);

    // A second restore finds nothing to do: every row already equals the backup's, to the text.
    const again = await restore(services, { organization_id: "1", backup_date: BACKUP_DATE, dry_run: true });
    expect(Object.keys(again.body.tables)).toHaveLength(6);
    for (const [name, table] of Object.entries(again.body.tables)) {
      expect(table, name).toMatchObject({ would_insert: 0, would_delete: 0, would_change: 0 });
    }
  });

  it("recomputes generated columns, which the backup does not hold", async () => {
    const made = await backup(services, "1", "2026-11-21");
    const table = made.manifest.tables.find((t) => t.name === "oddities");
    expect(table?.generated_columns).toEqual(["doubled"]);
    expect(table?.columns.map((c) => c.name)).not.toContain("doubled");
    const columns =
      "id, tenant_id, big, exact, f8, f4, ts, d, iv, raw, tags, grid, doc, doc_json, feeling, note, flag, uid";
    const before = await snapshot(db.client, [`(select ${columns} from oddities where tenant_id = 1)`]);

    // The expression changes after the backup, and some of the tenant's rows go.
    await db.owner.query(
      "delete from oddities where id in (select id from oddities where tenant_id = 1 order by id limit 20)",
    );
    await db.owner.query("alter table oddities drop column doubled");
    await db.owner.query(
      "alter table oddities add column doubled numeric generated always as (exact * 3) stored",
    );

    const real = await restore(services, { organization_id: "1", backup_date: "2026-11-21", dry_run: false });
    expect(real.status, JSON.stringify(real.body)).toBe(200);
    expect(real.body.tables.oddities).toMatchObject({ would_insert: 20, would_delete: 0, would_change: 0 });
    expect(await snapshot(db.client, [`(select ${columns} from oddities where tenant_id = 1)`])).toEqual(
      before,
    );
    const wrong = await db.client.query(
      "select count(*)::int as n from oddities where doubled is distinct from exact * 3",
    );
    expect(wrong.rows[0].n).toBe(0);
  });
});
