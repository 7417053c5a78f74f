/**
 * validation-rules and validate-tenant-data over HTTP: adding, listing (with the schema's proposals) and
 * removing rules; bad rule input refused with a 400 naming the field and nothing stored; who may read and
 * who may change; the report as JSON and as CSV.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handleValidateTenantData } from "../../functions/validate-tenant-data.ts";
import { handleValidationRules } from "../../functions/validation-rules.ts";
import { reportCsv } from "../../lib/validation/csv.ts";
import { AUTH_ENV, createAuthority } from "../auth/tokens.ts";
import { installSmallApp, ORG_A, ORG_B, USERS } from "../operations/small-app.ts";
import { call, send } from "../support/call.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { createTestServices, TEST_CRON_SECRET, type TestServices } from "../support/services.ts";

let db: TestDatabase;
let services: TestServices;
const tokens = { superAdmin: "", adminA: "", ownerB: "" };

beforeAll(async () => {
  db = await createTestDatabase("migrated");
  await installSmallApp(db.owner);
  // Blank notes: two in org-a, one in org-b.
  await db.owner.query(`
    update notes set body = '' where organization_id = 'org-a' and body in ('note 3', 'note 7');
    update notes set body = '   ' where organization_id = 'org-b' and body = 'note 1';`);
  services = await createTestServices(db.url, { ...AUTH_ENV });
  const authority = await createAuthority();
  tokens.superAdmin = await authority.sign(USERS.superAdmin.id, { key: "legacy" });
  tokens.adminA = await authority.sign(USERS.adminA.id, { key: "legacy" });
  tokens.ownerB = await authority.sign(USERS.ownerB.id, { key: "legacy" });
});

afterAll(async () => {
  await services?.cleanup();
  await db?.drop();
});

const rules = (method: string, token: string, options: { query?: Record<string, string>; body?: unknown }) =>
  call(handleValidationRules, services, "validation-rules", { method, token, ...options });
const storedCount = async () =>
  Number((await db.client.query("select count(*) from tenant_backup_validation_rules")).rows[0].count);

describe("validation-rules", () => {
  it("a super admin adds a rule (201), the list shows it, its proposal is gone, and DELETE removes it", async () => {
    const before = await rules("GET", TEST_CRON_SECRET, {});
    expect(before.status).toBe(200);
    expect(before.body.rules).toEqual([]);
    const proposal = before.body.proposed.find(
      (p: { table: string; column: string }) => p.table === "notes" && p.column === "body",
    );
    expect(proposal).toEqual({
      table: "notes",
      column: "body",
      kind: "required",
      params: {},
      reason: "NOT NULL text: the schema refuses NULL but lets an empty or blank value through",
    });
    expect(before.body.proposed).toContainEqual({
      table: "profiles",
      column: "email",
      kind: "format",
      params: { format: "email" },
      reason: "named like a email",
    });

    const { reason: _reason, ...accepted } = proposal;
    const added = await rules("POST", tokens.superAdmin, { body: accepted });
    expect(added.status, JSON.stringify(added.body)).toBe(201);
    expect(added.body.rule).toEqual({ id: expect.any(String), ...accepted, enabled: true });

    const after = await rules("GET", TEST_CRON_SECRET, {});
    expect(after.body.rules).toEqual([added.body.rule]);
    expect(after.body.proposed).not.toContainEqual(proposal);

    const removed = await rules("DELETE", tokens.superAdmin, { query: { id: added.body.rule.id } });
    expect(removed.status).toBe(200);
    expect(await storedCount()).toBe(0);
    const again = await rules("DELETE", tokens.superAdmin, { query: { id: added.body.rule.id } });
    expect(again.status).toBe(404);
    expect(again.body.error.details.field).toBe("id");
  });

  const bad: [string, Record<string, unknown>, string, RegExp][] = [
    ["an unknown kind", { table: "notes", column: "body", kind: "nice" }, "kind", /must be one of required/],
    ["an unknown table", { table: "invoices", column: "x", kind: "required" }, "table", /not a tenant table/],
    [
      "a global table's name",
      { table: "backup_logs", column: "id", kind: "required" },
      "table",
      /not a tenant/,
    ],
    ["an unknown column", { table: "notes", column: "title", kind: "required" }, "column", /no column title/],
    [
      "a format with neither format nor pattern",
      { table: "notes", column: "body", kind: "format", params: {} },
      "params.format",
      /exactly one of format/,
    ],
    [
      "an unknown format",
      { table: "notes", column: "body", kind: "format", params: { format: "iban" } },
      "params.format",
      /must be one of email, url, uuid, phone/,
    ],
    [
      "a regex PostgreSQL refuses",
      { table: "notes", column: "body", kind: "format", params: { pattern: "(unclosed" } },
      "params.pattern",
      /not a regular expression PostgreSQL accepts/,
    ],
    [
      "a range on a text column",
      { table: "notes", column: "body", kind: "range", params: { min: 1 } },
      "column",
      /needs a number/,
    ],
    [
      "a range with min above max",
      { table: "notes", column: "id", kind: "range", params: { min: 5, max: 1 } },
      "params.max",
      /must not be below min/,
    ],
    [
      "a range with no bound",
      { table: "notes", column: "id", kind: "range", params: {} },
      "params.min",
      /give min, max or positive/,
    ],
    [
      "a reference to a table outside the tenant catalog",
      { table: "notes", column: "id", kind: "references", params: { table: "pg_class", column: "oid" } },
      "params.table",
      /not a tenant table/,
    ],
    [
      "one_of without values",
      { table: "notes", column: "body", kind: "one_of", params: { values: [] } },
      "params.values",
      /at least one value/,
    ],
    [
      "params a kind does not take",
      { table: "notes", column: "body", kind: "required", params: { strict: true } },
      "params.strict",
      /is not a field/,
    ],
    [
      "a field of no rule",
      { table: "notes", column: "body", kind: "required", tenant: "x" },
      "tenant",
      /not a field/,
    ],
  ];
  it.each(bad)(
    "refuses %s with a 400 naming the field, storing nothing",
    async (_name, body, field, message) => {
      const response = await rules("POST", TEST_CRON_SECRET, { body });
      expect(response.status, JSON.stringify(response.body)).toBe(400);
      expect(response.body.error.details.field).toBe(field);
      expect(response.body.error.message).toMatch(new RegExp(`^${field.replace(".", "\\.")}: `));
      expect(response.body.error.message).toMatch(message);
      expect(await storedCount()).toBe(0);
    },
  );

  it("an organization's admin reads the rules for their organization, and changes none", async () => {
    expect((await rules("GET", tokens.adminA, { query: { organization_id: ORG_A } })).status).toBe(200);
    expect((await rules("GET", tokens.adminA, { query: { organization_id: ORG_B } })).status).toBe(403);
    expect((await rules("GET", tokens.adminA, {})).status).toBe(403);
    const body = { table: "notes", column: "body", kind: "required" };
    expect((await rules("POST", tokens.adminA, { body })).status).toBe(403);
    const id = "00000000-0000-4000-8000-000000000001";
    expect((await rules("DELETE", tokens.adminA, { query: { id } })).status).toBe(403);
    expect(await storedCount()).toBe(0);
  });
});

describe("validate-tenant-data", () => {
  beforeAll(async () => {
    const added = await rules("POST", TEST_CRON_SECRET, {
      body: { table: "notes", column: "body", kind: "required" },
    });
    expect(added.status).toBe(201);
  });

  it("answers the organization's report to its admin, and refuses another organization's", async () => {
    const ids = (
      await db.client.query(
        "select id from notes where body !~ '\\S' and organization_id = 'org-a' order by id",
      )
    ).rows.map((r) => ({ id: String(r.id) }));
    const response = await call(handleValidateTenantData, services, "validate-tenant-data", {
      method: "GET",
      token: tokens.adminA,
      query: { organization_id: ORG_A },
    });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    expect(response.body.summary).toMatchObject({ rules: 1, failed: 1, violations: 2, errors: 0 });
    expect(response.body.results).toEqual([
      {
        rule_id: expect.any(String),
        table: "notes",
        column: "body",
        kind: "required",
        params: {},
        violations: 2,
        sample_keys: ids,
        message: expect.stringMatching(/^2 rows break the rule: notes\.body is required .*Fix: fill in/),
      },
    ]);
    const other = await call(handleValidateTenantData, services, "validate-tenant-data", {
      method: "GET",
      token: tokens.adminA,
      query: { organization_id: ORG_B },
    });
    expect(other.status).toBe(403);
    const missing = await call(handleValidateTenantData, services, "validate-tenant-data", {
      method: "GET",
      token: TEST_CRON_SECRET,
      query: { organization_id: "org-zz" },
    });
    expect(missing.status).toBe(404);
  });

  it("answers CSV for spreadsheets with format=csv", async () => {
    const response = await send(handleValidateTenantData, services, "validate-tenant-data", {
      token: TEST_CRON_SECRET,
      query: { organization_id: ORG_B, format: "csv" },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(response.headers.get("content-disposition")).toMatch(/^attachment; filename="validation-org-b-/);
    const lines = response.text().split("\r\n");
    expect(lines[0]).toBe("rule_id,table,column,kind,violations,sample_keys,message");
    expect(lines[1]).toMatch(/^[0-9a-f-]{36},notes,body,required,1,id=\d+,"1 row breaks the rule: /);
    expect(lines[2]).toBe("");
    const bad = await send(handleValidateTenantData, services, "validate-tenant-data", {
      token: TEST_CRON_SECRET,
      query: { organization_id: ORG_B, format: "xlsx" },
    });
    expect(bad.status).toBe(400);
    expect(bad.json().error.details.field).toBe("format");
  });

  it("the CSV quotes what needs quoting and keeps a key's text from running as a formula", () => {
    const csv = reportCsv({
      summary: { rules: 1, failed: 1, violations: 1, errors: 0, checked_at: "2026-11-22T00:00:00.000Z" },
      results: [
        {
          rule_id: "r1",
          table: "t",
          column: "c",
          kind: "required",
          params: {},
          violations: 1,
          sample_keys: [{ code: '=HYPERLINK("x")' }],
          message: 'a, "quoted"\nmessage',
        },
      ],
    });
    expect(csv.split("\r\n")[1]).toBe(`r1,t,c,required,1,"code==HYPERLINK(""x"")","a, ""quoted""\nmessage"`);
    const first = reportCsv({
      summary: { rules: 1, failed: 1, violations: 1, errors: 0, checked_at: "" },
      results: [
        {
          rule_id: "=1+1",
          table: "t",
          column: "c",
          kind: "required",
          params: {},
          violations: 1,
          sample_keys: [],
          message: "-x",
        },
      ],
    });
    expect(first.split("\r\n")[1]).toBe("'=1+1,t,c,required,1,,'-x");
  });
});
