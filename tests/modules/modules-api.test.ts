/**
 * Modules through the Supabase API (supabase-js rpc() → the fake PostgREST → our SQL, as the service role
 * under the authenticator's statement timeout), as on a project without DATABASE_URL: the export written
 * from paged reads is byte for byte the CSV that COPY writes on the direct path (awkward values and the
 * formula guard included), and an import runs its dry run and its real run through rpc() alike.
 */
import { type SetupServer, setupServer } from "msw/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createFakePostgrest } from "../db/fake-postgrest.ts";
import { PROJECT_JWT_SECRET, projectKeys } from "../db/supabase-keys.ts";
import { createAppDatabase, workspaceSnapshot } from "../restore/app.ts";
import type { TestDatabase } from "../support/database.ts";
import { createTestServices, type TestServices } from "../support/services.ts";
import { exportCsv, exportWithSlowLog, importCsv, MODULE_ENV } from "./module-app.ts";

const PROJECT_URL = "https://modules-project.supabase.co";

let db: TestDatabase;
let server: SetupServer;
let fake: ReturnType<typeof createFakePostgrest>;
let direct: TestServices;
let api: TestServices;

beforeAll(async () => {
  db = await createAppDatabase();
  const keys = await projectKeys();
  fake = createFakePostgrest({
    apiKeys: [keys.anon, keys.serviceRole],
    jwtSecret: PROJECT_JWT_SECRET,
    databaseUrl: db.authenticatorUrl,
    url: PROJECT_URL,
  });
  server = setupServer(...fake.handlers);
  server.listen({ onUnhandledRequest: "error" });
  direct = await createTestServices(db.url, MODULE_ENV);
  api = await createTestServices(db.url, {
    ...MODULE_ENV,
    DATABASE_URL: "",
    SUPABASE_URL: PROJECT_URL,
    SUPABASE_SERVICE_ROLE_KEY: keys.serviceRole,
    BACKUP_STORAGE: "local",
    // Pages of 7 rows: the export spans several pages.
    BACKUP_PAGE_ROWS: "7",
  });
  await db.owner.query(
    `insert into contacts (workspace_id, first_name, last_name, email, phone) values
       ('w1', '', 'Empty first', 'empty@example.com', null),
       ('w1', 'Quote "q", comma', E'Line\\nbreak\\r\\nCRLF', 'awk@example.com', '\\.'),
       ('w1', '=1+2', '@sum', 'formula@example.com', '-7'),
       ('w1', 'Zoë 😀', 'Ünïcode', 'u@example.com', E'\\ttab')`,
  );
});

afterAll(async () => {
  server?.close();
  await direct?.cleanup();
  await api?.cleanup();
  await fake?.close();
  await db?.drop();
});

describe("modules through the Supabase API", () => {
  it("exports the same bytes as COPY on the direct path, guarded or not", async () => {
    expect(api.db.kind).toBe("supabase");
    for (const guard of ["false", "true"]) {
      const query = { organization_id: "w1", module: "crm", table: "contacts", for_spreadsheet: guard };
      const fromCopy = await exportCsv(direct, query);
      const fromPages = await exportCsv(api, query);
      expect(fromPages.status).toBe(200);
      expect(Buffer.from(fromPages.bytes).toString("utf8")).toBe(
        Buffer.from(fromCopy.bytes).toString("utf8"),
      );
      expect(fromCopy.text()).toContain('"Quote ""q"", comma","Line\nbreak\r\nCRLF"');
    }
    expect(fake.calls.filter((c) => c.fn === "tenant_backup_module_page").length).toBeGreaterThan(6);
  });

  it("closes the export's backup_logs row before the client has the last byte", async () => {
    const { answer, log } = await exportWithSlowLog(api, db, {
      organization_id: "w1",
      module: "crm",
      table: "contacts",
    });
    expect(answer.status).toBe(200);
    const { rows } = await db.client.query(
      "select count(*)::text as n from contacts where workspace_id = 'w1'",
    );
    expect(log).toEqual({ status: "completed", records_count: rows[0].n });
  });

  it("imports through rpc(): the dry run changes nothing, the real run writes the file", async () => {
    const others = await workspaceSnapshot(db.client, "<> 'w1'");
    const file = "first_name,last_name,email\nVia,Api,via-api@example.com\n";
    const query = { organization_id: "w1", module: "crm", table: "contacts" };
    const dry = await importCsv(api, query, file);
    expect(dry.status, JSON.stringify(dry.body)).toBe(200);
    expect(dry.body.summary).toMatchObject({ would_insert: 1, inserted: 0 });
    expect(
      (await db.client.query("select count(*)::int as n from contacts where email = 'via-api@example.com'"))
        .rows[0].n,
    ).toBe(0);
    const real = await importCsv(api, { ...query, dry_run: "false" }, file);
    expect(real.status, JSON.stringify(real.body)).toBe(200);
    expect(real.body.summary).toMatchObject({ inserted: 1 });
    expect(real.body.undo_backup_id).not.toBeNull();
    const { rows } = await db.client.query(
      "select workspace_id, first_name, last_name, phone from contacts where email = 'via-api@example.com'",
    );
    expect(rows).toEqual([{ workspace_id: "w1", first_name: "Via", last_name: "Api", phone: null }]);
    expect(await workspaceSnapshot(db.client, "<> 'w1'")).toEqual(others);
  });

  it("refuses a caller without credentials before reading the file", async () => {
    const before = await workspaceSnapshot(db.client, "is not null");
    const { call } = await import("../support/call.ts");
    const { handleImportModule } = await import("../../functions/import-module.ts");
    const answer = await call(handleImportModule, api, "import-module", {
      query: { organization_id: "w1", module: "crm", table: "contacts", dry_run: "false" },
      rawBody: "first_name,last_name,email\nNo,Body,nobody@example.com\n",
      headers: { "content-type": "text/csv" },
    });
    expect(answer.status).toBe(401);
    expect(await workspaceSnapshot(db.client, "is not null")).toEqual(before);
  });
});
