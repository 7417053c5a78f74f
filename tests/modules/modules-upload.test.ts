/**
 * A CSV too large for a request body goes through Supabase Storage (the fake of tests/storage): the
 * signed upload URL takes the file without credentials, import-module reads it by its key — only from the
 * organization's own folder — keeps it after the dry run and deletes it after the real import; with local
 * storage there are no upload URLs; uploads left over a day are swept when the next is asked for.
 */
import { setupServer } from "msw/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handleModuleUploadUrl } from "../../functions/module-upload-url.ts";
import { setServices } from "../../functions/runtime.ts";
import { createTenantBackupClient } from "../../web/client/index.ts";
import { createAppDatabase } from "../restore/app.ts";
import { createFakeSupabaseStorage } from "../storage/fake-supabase-storage.ts";
import { call } from "../support/call.ts";
import type { TestDatabase } from "../support/database.ts";
import { createTestServices, TEST_CRON_SECRET, type TestServices } from "../support/services.ts";
import { importCsv, MODULE_ENV } from "./module-app.ts";

const SUPABASE = "https://uploads-project.supabase.co";
const KEY = "service-role-key-for-the-fake-storage";
const server = setupServer();
let db: TestDatabase;
let services: TestServices;
const fake = createFakeSupabaseStorage({ url: SUPABASE, key: KEY });

beforeAll(async () => {
  server.listen({ onUnhandledRequest: "error" });
  server.resetHandlers(...fake.handlers);
  db = await createAppDatabase();
  services = await createTestServices(db.url, {
    ...MODULE_ENV,
    SUPABASE_URL: SUPABASE,
    SUPABASE_SERVICE_ROLE_KEY: KEY,
    BACKUP_STORAGE: "supabase",
    // The body limit is tiny here: the file must go through storage.
    IMPORT_MAX_BYTES: "64",
  });
});

afterAll(async () => {
  server.close();
  await services?.cleanup();
  await db?.drop();
});

function uploadUrl(s: TestServices, organizationId: string) {
  return call(handleModuleUploadUrl, s, "module-upload-url", {
    token: TEST_CRON_SECRET,
    query: { organization_id: organizationId },
  });
}

const CONTACTS = { organization_id: "w1", module: "crm", table: "contacts" };
const FILE = `first_name,last_name,email\n${Array.from({ length: 50 }, (_, i) => `Up${i},Loaded,up${i}@example.com`).join("\n")}\n`;

describe("imports through a signed upload", () => {
  it("takes the file at the signed URL, imports it by key, and deletes it after the real import", async () => {
    expect((await importCsv(services, CONTACTS, FILE)).status).toBe(413);
    const signed = await uploadUrl(services, "w1");
    expect(signed.status, JSON.stringify(signed.body)).toBe(200);
    expect(signed.body.upload).toMatch(/^tenant-imports\/w1\/\d{8}T\d{6}-[0-9a-f]{16}\.csv$/);
    const put = await fetch(signed.body.url, {
      method: "PUT",
      headers: { "content-type": "text/csv" },
      body: FILE,
    });
    expect(put.status).toBe(200);

    const dry = await importCsv(services, { ...CONTACTS, upload: signed.body.upload }, "");
    expect(dry.status, JSON.stringify(dry.body)).toBe(200);
    expect(dry.body.summary).toMatchObject({ would_insert: 50, refused: 0 });
    const real = await importCsv(services, { ...CONTACTS, upload: signed.body.upload, dry_run: "false" }, "");
    expect(real.status, JSON.stringify(real.body)).toBe(200);
    expect(real.body.summary).toMatchObject({ inserted: 50 });
    const { rows } = await db.client.query(
      "select count(*)::int as n from contacts where last_name = 'Loaded' and workspace_id = 'w1'",
    );
    expect(rows[0].n).toBe(50);
    const again = await importCsv(services, { ...CONTACTS, upload: signed.body.upload }, "");
    expect(again.status).toBe(404);
  });

  it("reads an upload only for the organization whose folder holds it", async () => {
    const signed = await uploadUrl(services, "w2");
    await fetch(signed.body.url, { method: "PUT", headers: { "content-type": "text/csv" }, body: FILE });
    const stolen = await importCsv(services, { ...CONTACTS, upload: signed.body.upload }, "");
    expect(stolen.status).toBe(400);
    expect(stolen.body.error.message).toBe("upload: is not an upload of organization w1");
    const outside = await importCsv(services, { ...CONTACTS, upload: "tenant-backups/w1/x.csv" }, "");
    expect(outside.status).toBe(400);
  });

  it("sweeps uploads left over a day when the next upload URL is asked for", async () => {
    const old = await uploadUrl(services, "w3");
    await fetch(old.body.url, { method: "PUT", headers: { "content-type": "text/csv" }, body: FILE });
    services.clock.set(new Date(services.now().getTime() + 25 * 3600 * 1000));
    const fresh = await uploadUrl(services, "w3");
    const left = (await services.storage.list("tenant-imports/w3/")).map((o) => o.path);
    expect(left).not.toContain(old.body.upload);
    expect(fresh.status).toBe(200);
  });

  it("the browser client uploads a file and imports it by its key", async () => {
    setServices(services);
    // The functions' paths go to the functions Netlify would run; the storage URL to the fake storage.
    const routed: typeof fetch = async (input, init) => {
      const request = new Request(input, init);
      const url = new URL(request.url);
      if (!url.pathname.startsWith("/.netlify/functions/")) return fetch(request);
      const entry = (await import(`../../netlify/functions/${url.pathname.split("/").pop()}.ts`)) as {
        default: (r: Request) => Promise<Response>;
      };
      return entry.default(request);
    };
    const client = createTenantBackupClient({
      apiBaseUrl: "https://site.example/.netlify/functions/",
      getAccessToken: () => TEST_CRON_SECRET,
      fetch: routed,
    });
    try {
      const file = new Blob(["first_name,last_name,email\nBy,Client,by-client@example.com\n"]);
      const upload = await client.uploadCsv("w1", file);
      const report = await client.importModule("w1", "crm", { upload }, { table: "contacts", dryRun: false });
      expect(report.summary).toMatchObject({ inserted: 1, refused: 0 });
    } finally {
      setServices(undefined);
    }
  });

  it("answers 400 where files are not in Supabase Storage", async () => {
    const local = await createTestServices(db.url, MODULE_ENV);
    try {
      const answer = await uploadUrl(local, "w1");
      expect(answer.status).toBe(400);
      expect(answer.body.error.message).toContain("need Supabase Storage");
    } finally {
      await local.cleanup();
    }
  });
});
