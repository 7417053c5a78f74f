/**
 * Modules over a direct connection, against the restore-app schema with MODULES=crm:contacts,deals:
 * listing with counts, the CSV export as COPY writes it, the formula guard, and imports — the round trip
 * (export → edit → dry run shows exactly the edits → import → the data is the file → restoring the undo
 * point brings the module back), another organization's rows never written, and bad files refused with
 * nothing changed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handleListModules } from "../../functions/list-modules.ts";
import { handleModuleTemplate } from "../../functions/module-template.ts";
import { dayOfBackupId } from "../../lib/backup/paths.ts";
import { parseCsv } from "../../lib/modules/csv.ts";
import { createAppDatabase, restore, workspaceSnapshot } from "../restore/app.ts";
import { call, send } from "../support/call.ts";
import type { TestDatabase } from "../support/database.ts";
import { createTestServices, TEST_CRON_SECRET, type TestServices } from "../support/services.ts";
import { exportCsv, exportWithSlowLog, importCsv, MODULE_ENV } from "./module-app.ts";

let db: TestDatabase;
let services: TestServices;

beforeAll(async () => {
  db = await createAppDatabase();
  services = await createTestServices(db.url, MODULE_ENV);
});

afterAll(async () => {
  await services?.cleanup();
  await db?.drop();
});

const CONTACTS = { organization_id: "w1", module: "crm", table: "contacts" };

/** The rows of a CSV after its header, as arrays of fields. */
function rowsOf(csv: string): (string | null)[][] {
  return [...parseCsv(csv)].slice(1).map((r) => r.fields);
}

/** A CSV of the header and rows, as COPY writes it. */
function csvOf(rows: (string | null)[][]): string {
  const field = (v: string | null) =>
    v === null ? "" : /^$|[",\r\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v;
  return rows.map((r) => `${r.map(field).join(",")}\n`).join("");
}

describe("modules over a direct connection", () => {
  it("lists the modules with the organization's record counts", async () => {
    const answer = await call(handleListModules, services, "list-modules", {
      method: "GET",
      token: TEST_CRON_SECRET,
      query: { organization_id: "w2" },
    });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const { rows } = await db.client.query(
      `select (select count(*) from contacts where workspace_id = 'w2')::int as c,
              (select count(*) from deals where workspace_id = 'w2')::int as d,
              (select count(*) from deal_notes n join deals d on d.id = n.deal_id where d.workspace_id = 'w2')::int as n`,
    );
    expect(answer.body.modules).toEqual([
      {
        name: "crm",
        tables: [
          { name: "contacts", records: rows[0].c },
          { name: "deals", records: rows[0].d },
        ],
        records: rows[0].c + rows[0].d,
      },
      { name: "workspaces", tables: [{ name: "workspaces", records: 1 }], records: 1 },
      { name: "deal_notes", tables: [{ name: "deal_notes", records: rows[0].n }], records: rows[0].n },
    ]);
  });

  it("exports a table as COPY writes it, and asks which table of a module of several", async () => {
    const answer = await exportCsv(services, CONTACTS);
    expect(answer.status).toBe(200);
    expect(answer.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    const { rows } = await db.client.query(
      "select id::text, workspace_id, first_name, last_name, email, phone from contacts where workspace_id = 'w1' order by contacts.id",
    );
    const expected = csvOf([
      ["id", "workspace_id", "first_name", "last_name", "email", "phone"],
      ...rows.map((r) => [r.id, r.workspace_id, r.first_name, r.last_name, r.email, r.phone]),
    ]);
    expect(answer.text()).toBe(expected);
    const ambiguous = await exportCsv(services, { organization_id: "w1", module: "crm" });
    expect(ambiguous.status).toBe(400);
    expect(ambiguous.json().error.message).toContain("table: module crm holds contacts, deals");
    expect((await exportCsv(services, { organization_id: "w1", module: "nothing" })).status).toBe(404);
    const { rows: logs } = await db.client.query(
      "select status, records_count, details from backup_logs where backup_type = 'module_export' order by id",
    );
    expect(logs[0]).toMatchObject({
      status: "completed",
      records_count: "40",
      details: { module: "crm", table: "contacts", requested_by: "cron" },
    });
  });

  it("closes the export's backup_logs row before the client has the last byte", async () => {
    const { answer, log } = await exportWithSlowLog(services, db, CONTACTS);
    expect(answer.status).toBe(200);
    expect(log).toEqual({ status: "completed", records_count: String(rowsOf(answer.text()).length) });
  });

  it("guards formulas for spreadsheets, leaving plain numbers and the plain export alone", async () => {
    await db.owner.query(
      `insert into workspaces values ('w9', 'Guarded');
       insert into contacts (workspace_id, first_name, last_name, email, phone)
       values ('w9', '=HYPERLINK("http://x")', '-5', '@x', '+1 555'), ('w9', E'\\tTab', 'plain', 'g@x', null)`,
    );
    const plain = rowsOf((await exportCsv(services, { ...CONTACTS, organization_id: "w9" })).text());
    const guarded = rowsOf(
      (await exportCsv(services, { ...CONTACTS, organization_id: "w9", for_spreadsheet: "true" })).text(),
    );
    expect(plain.map((r) => r.slice(2))).toEqual([
      ['=HYPERLINK("http://x")', "-5", "@x", "+1 555"],
      ["\tTab", "plain", "g@x", null],
    ]);
    expect(guarded.map((r) => r.slice(2))).toEqual([
      ['\'=HYPERLINK("http://x")', "-5", "'@x", "'+1 555"],
      ["'\tTab", "plain", "g@x", null],
    ]);
  });

  it("describes a table's columns in its template", async () => {
    const answer = await call(handleModuleTemplate, services, "module-template", {
      method: "GET",
      token: TEST_CRON_SECRET,
      query: { module: "crm", table: "deals" },
    });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body.header).toBe("id,workspace_id,contact_id,amount,stage\n");
    const byName = Object.fromEntries(answer.body.columns.map((c: { name: string }) => [c.name, c]));
    expect(byName.amount).toMatchObject({ type: "numeric(12,2)", required: true, example: "12.50" });
    expect(byName.stage).toMatchObject({ required: false, has_default: true });
    expect(byName.workspace_id).toMatchObject({ tenant_key: true, required: false });
    expect(byName.contact_id).toMatchObject({ references: "contacts(id)", required: true });
    expect(byName.id).toMatchObject({ primary_key: true, has_default: true, required: false });
    const file = await send(handleModuleTemplate, services, "module-template", {
      token: TEST_CRON_SECRET,
      query: { module: "crm", table: "deals", format: "csv" },
    });
    expect(file.text()).toBe("id,workspace_id,contact_id,amount,stage\n");
  });

  it("round trip: the dry run shows exactly the edits, the import writes them, the undo point restores", async () => {
    const original = await workspaceSnapshot(db.client, "= 'w1'");
    const others = await workspaceSnapshot(db.client, "<> 'w1'");
    const exported = (await exportCsv(services, CONTACTS)).text();
    const rows = rowsOf(exported);
    // Two edits (a phone set to NULL, a name with a quote, a comma and a line break) and one new row.
    const edited = rows.map((r) => [...r]);
    (edited[0] as (string | null)[])[5] = null;
    (edited[1] as (string | null)[])[2] = 'Anne "A", \nSecond line';
    edited.push([null, null, "New", "Person", "new-person@example.com", "+1 555 0000"]);
    const file = csvOf([["id", "workspace_id", "first_name", "last_name", "email", "phone"], ...edited]);

    const dry = await importCsv(services, CONTACTS, file);
    expect(dry.status, JSON.stringify(dry.body)).toBe(200);
    expect(dry.body).toMatchObject({
      success: true,
      dry_run: true,
      summary: { would_insert: 1, would_update: 2, unchanged: 38, refused: 0, inserted: 0, updated: 0 },
      errors: [],
      undo_backup_id: null,
    });
    expect(await workspaceSnapshot(db.client, "= 'w1'")).toEqual(original);

    const real = await importCsv(services, { ...CONTACTS, dry_run: "false" }, file);
    expect(real.status, JSON.stringify(real.body)).toBe(200);
    expect(real.body.summary).toMatchObject({ inserted: 1, updated: 2, refused: 0 });
    const undoId = real.body.undo_backup_id as string;
    expect(undoId).toMatch(/\d/);
    // The data is now the file: exported again, it is the file with the new row's id filled in.
    const after = rowsOf((await exportCsv(services, CONTACTS)).text());
    const newId = (after.at(-1) as string[])[0];
    expect(after).toEqual([...edited.slice(0, -1), [newId, "w1", ...(edited.at(-1) as string[]).slice(2)]]);
    expect(await workspaceSnapshot(db.client, "<> 'w1'")).toEqual(others);

    const undo = await restore(services, {
      organization_id: "w1",
      backup_date: dayOfBackupId(undoId),
      backup_id: undoId,
      tables: ["contacts", "deals"],
      dry_run: false,
    });
    expect(undo.status, JSON.stringify(undo.body)).toBe(200);
    expect(await workspaceSnapshot(db.client, "= 'w1'")).toEqual(original);
    expect(await workspaceSnapshot(db.client, "<> 'w1'")).toEqual(others);

    const { rows: logs } = await db.client.query(
      "select dry_run, status, records_count, details, created_by from backup_logs where backup_type = 'module_import' order by id",
    );
    expect(logs.map((l) => [l.dry_run, l.status, l.records_count, l.created_by])).toEqual([
      [true, "completed", "0", "cron"],
      [false, "completed", "3", "cron"],
    ]);
    // The undo point names who made it, as every backup does.
    const { rows: undoRow } = await db.client.query(
      "select created_by, note from backup_logs where backup_type = 'pre_restore' and backup_id = $1",
      [undoId],
    );
    expect(undoRow).toEqual([{ created_by: "cron", note: "undo point of the crm import" }]);
    expect(logs[1].details).toMatchObject({
      module: "crm",
      table: "contacts",
      requested_by: "cron",
      undo_backup_id: undoId,
    });
  });

  it("never writes another organization's rows, whatever the file says", async () => {
    const before = await workspaceSnapshot(db.client, "is not null");
    const { rows: w2 } = await db.client.query(
      "select id::text from contacts where workspace_id = 'w2' order by id limit 2",
    );
    const { rows: w2deal } = await db.client.query(
      "select id::text from deals where workspace_id = 'w2' limit 1",
    );
    const contacts = csvOf([
      ["id", "workspace_id", "first_name", "last_name", "email", "phone"],
      [w2[0].id, "w2", "Taken", "Over", "taken1@example.com", null],
      [w2[1].id, null, "Taken", "Over", "taken2@example.com", null],
      [null, "w2", "Planted", "Row", "planted@example.com", null],
    ]);
    const dry = await importCsv(services, CONTACTS, contacts);
    expect(dry.body.summary).toMatchObject({ refused: 3, would_insert: 0, would_update: 0 });
    expect(dry.body.errors).toEqual([
      {
        line: 2,
        column: "workspace_id",
        message: "belongs to organization w2; this import writes only organization w1's rows",
      },
      { line: 3, column: "id", message: "belongs to another organization" },
      {
        line: 4,
        column: "workspace_id",
        message: "belongs to organization w2; this import writes only organization w1's rows",
      },
    ]);
    const real = await importCsv(services, { ...CONTACTS, dry_run: "false" }, contacts);
    expect(real.status).toBe(422);
    expect(real.body.undo_backup_id).toBeNull();

    // A deal of w1 pointing at w2's contact; a deal note (reached through deals) on w2's deal.
    const deals = csvOf([
      ["contact_id", "amount"],
      [w2[0].id, "10.00"],
    ]);
    const dealAnswer = await importCsv(
      services,
      { organization_id: "w1", module: "crm", table: "deals", dry_run: "false" },
      deals,
    );
    expect(dealAnswer.status).toBe(422);
    expect(dealAnswer.body.errors).toEqual([
      {
        line: 2,
        column: "contact_id",
        message: "unknown reference: no such contacts row of organization w1",
      },
    ]);
    const notes = csvOf([
      ["deal_id", "body"],
      [w2deal[0].id, "planted"],
    ]);
    const noteAnswer = await importCsv(
      services,
      { organization_id: "w1", module: "deal_notes", dry_run: "false" },
      notes,
    );
    expect(noteAnswer.status).toBe(422);
    expect(noteAnswer.body.errors[0]).toMatchObject({
      line: 2,
      column: "deal_id",
      message: "does not point at a deals row of organization w1",
    });
    expect(await workspaceSnapshot(db.client, "is not null")).toEqual(before);
  });

  it("reports wrong types, required values, duplicates and existing keys by line and column", async () => {
    const { rows: w1 } = await db.client.query(
      "select id::text from contacts where workspace_id = 'w1' order by id limit 1",
    );
    const deals = csvOf([
      ["id", "contact_id", "amount", "stage"],
      [null, w1[0].id, "lots", "open"],
      [null, null, "1.00", "open"],
      ["900001", w1[0].id, "1.00", "open"],
      ["900001", w1[0].id, "2.00", "open"],
    ]);
    const answer = await importCsv(services, { organization_id: "w1", module: "crm", table: "deals" }, deals);
    expect(answer.body.errors).toEqual([
      { line: 2, column: "amount", message: "'lots' is not a valid numeric(12,2)" },
      { line: 3, column: "contact_id", message: "is required (the column is NOT NULL)" },
      { line: 5, column: "id", message: "appears twice in the file (first on line 4)" },
    ]);
    expect(answer.body.summary).toMatchObject({ refused: 3, would_insert: 1 });
    const contacts = csvOf([
      ["id", "first_name", "last_name", "email"],
      [w1[0].id, "Again", "Again", "again@example.com"],
    ]);
    const insertOnly = await importCsv(services, { ...CONTACTS, mode: "insert" }, contacts);
    expect(insertOnly.body.errors).toEqual([
      { line: 2, column: "id", message: "already exists (mode insert adds new rows only)" },
    ]);
    // What only the database itself can tell (a unique constraint across tenants): the dry run runs the
    // writes, so it reports it too, for the file as a whole.
    const taken = csvOf([
      ["first_name", "last_name", "email"],
      ["Dup", "Licate", "w2-1@example.com"],
    ]);
    const unique = await importCsv(services, CONTACTS, taken);
    expect(unique.body.success).toBe(false);
    expect(unique.body.errors).toEqual([
      {
        line: null,
        column: null,
        message: expect.stringContaining("duplicate key value violates unique constraint"),
      },
    ]);
  });

  it("accepts a BOM, CRLF and quoted line breaks; refuses garbage, unknown or missing columns and large files", async () => {
    const before = await workspaceSnapshot(db.client, "is not null");
    const spreadsheet = '\uFEFFfirst_name,last_name,email\r\n"Multi\r\nLine",Name,multi@example.com\r\n';
    const ok = await importCsv(services, CONTACTS, spreadsheet);
    expect(ok.body.summary, JSON.stringify(ok.body)).toMatchObject({ would_insert: 1, refused: 0 });

    const refusals: [string | Uint8Array, string, number, string][] = [
      [new Uint8Array([0xff, 0xfe, 0x00, 0x41]), "text/csv", 400, "not UTF-8"],
      ['first_name,last_name,email\n"open', "text/csv", 400, "never closed"],
      ["first_name,last_name,email,shoe_size\nA,B,c@x,44\n", "text/csv", 400, 'unknown column "shoe_size"'],
      [
        "first_name,last_name,email,full_name\nA,B,c@x,A B\n",
        "text/csv",
        400,
        "full_name computed by the database",
      ],
      ["first_name,email\nA,c@x\n", "text/csv", 400, "required column missing: last_name"],
      ["first_name,last_name,email\nA,B,c@x\n", "application/json", 415, "text/csv"],
      ["", "text/csv", 400, "empty"],
    ];
    for (const [body, type, status, message] of refusals) {
      const answer = await importCsv(services, { ...CONTACTS, dry_run: "false" }, body, type);
      expect([answer.status, answer.body.error?.message], String(body)).toEqual([
        status,
        expect.stringContaining(message),
      ]);
    }
    const small = await createTestServices(db.url, { ...MODULE_ENV, IMPORT_MAX_BYTES: "100" });
    try {
      const large = `first_name,last_name,email\n${"A,B,c@example.com\n".repeat(10)}`;
      const answer = await importCsv(small, { ...CONTACTS, dry_run: "false" }, large);
      expect(answer.status).toBe(413);
    } finally {
      await small.cleanup();
    }
    expect(await workspaceSnapshot(db.client, "is not null")).toEqual(before);
  });
});
