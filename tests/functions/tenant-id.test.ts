/**
 * One tenant, one spelling. For a uuid key, PostgreSQL takes `00000000000040008000000000000001` and an
 * upper-case UUID for the same tenant; leases, rate limits and storage folders are keyed by text. So every
 * organization id becomes the key's canonical text first (tenant_backup_tenant_key), on the direct path and
 * through PostgREST alike, and a value that is not of the key's type is a 400 naming organization_id.
 */
import { setupServer } from "msw/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handleBackupTenantData } from "../../functions/backup-tenant-data.ts";
import { handleListBackups } from "../../functions/list-backups.ts";
import { handleRestoreTenantData } from "../../functions/restore-tenant-data.ts";
import type { Services } from "../../lib/services.ts";
import type { BackupStorage } from "../../lib/storage/port.ts";
import { DEMO_ORGANIZATIONS } from "../../scripts/demo/install.ts";
import { createFakePostgrest } from "../db/fake-postgrest.ts";
import { PROJECT_JWT_SECRET, projectKeys } from "../db/supabase-keys.ts";
import { call } from "../support/call.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { createTestServices, TEST_CRON_SECRET, type TestServices } from "../support/services.ts";

const PROJECT_URL = "https://fake-project.supabase.co";

const [acme, bluewater, cedar] = DEMO_ORGANIZATIONS.map((o) => o.id) as [string, string, string];
const bare = (id: string) => id.replaceAll("-", "");

let db: TestDatabase;
let services: TestServices;
let viaRpc: TestServices;
let fake: ReturnType<typeof createFakePostgrest>;
const server = setupServer();

beforeAll(async () => {
  db = await createTestDatabase("demo");
  services = await createTestServices(db.url);
  const keys = await projectKeys();
  fake = createFakePostgrest({
    url: PROJECT_URL,
    apiKeys: [keys.anon, keys.serviceRole],
    jwtSecret: PROJECT_JWT_SECRET,
    databaseUrl: db.authenticatorUrl,
  });
  server.listen({ onUnhandledRequest: "error" });
  server.use(...fake.handlers);
  viaRpc = await createTestServices(db.url, {
    DATABASE_URL: "",
    SUPABASE_URL: PROJECT_URL,
    SUPABASE_SERVICE_ROLE_KEY: keys.serviceRole,
    BACKUP_STORAGE: "local",
    // The same backup folder as the direct path: one installation, two ways to its database.
    BACKUP_DIR: services.backupDir,
  });
  // Key types other than uuid, each in a schema of its own: the function reads whichever the layout names.
  // The app's own tables, created by its owner.
  await db.owner.query(`
    create schema text_keyed; create table text_keyed.organizations (id text primary key);
    create schema short_keyed; create table short_keyed.organizations (id varchar(8) primary key);
    create schema int_keyed; create table int_keyed.organizations (id bigint primary key);`);
});

afterAll(async () => {
  server.close();
  await services?.cleanup();
  await viaRpc?.cleanup();
  await fake?.close();
  await db?.drop();
});

const tenantKey = async (id: string, schema = "public") =>
  (
    await db.client.query("select public.tenant_backup_tenant_key($1, 'organizations', $2) as k", [
      id,
      schema,
    ])
  ).rows[0].k;

describe("tenant_backup_tenant_key", () => {
  it("answers the uuid key's canonical text for every spelling PostgreSQL accepts", async () => {
    for (const spelling of [acme, acme.toUpperCase(), bare(acme), `{${acme}}`]) {
      expect(await tenantKey(spelling)).toEqual({ valid: true, id: acme });
    }
  });

  it("refuses a value that is not of the key's type, saying which type", async () => {
    expect(await tenantKey("not-a-uuid")).toEqual({
      valid: false,
      type: "uuid",
      message: 'invalid input syntax for type uuid: "not-a-uuid"',
    });
    expect((await tenantKey("99999999999999999999", "int_keyed")).valid).toBe(false);
    // An explicit cast to varchar(8) would cut the value to a key that may exist: refused instead.
    expect(await tenantKey("abcdefghij", "short_keyed")).toMatchObject({
      valid: false,
      type: "character varying(8)",
    });
  });

  it("leaves a text key as sent, and prints an integer key as PostgreSQL does", async () => {
    expect(await tenantKey("Org-A", "text_keyed")).toEqual({ valid: true, id: "Org-A" });
    expect(await tenantKey("org-a", "text_keyed")).toEqual({ valid: true, id: "org-a" });
    expect(await tenantKey("abcdefgh", "short_keyed")).toEqual({ valid: true, id: "abcdefgh" });
    expect(await tenantKey("007", "int_keyed")).toEqual({ valid: true, id: "7" });
  });

  it("answers the same through PostgREST as the service role", async () => {
    expect(await viaRpc.db.tenantKey(bare(acme).toUpperCase())).toEqual({ valid: true, id: acme });
    expect(await viaRpc.db.tenantKey("not-a-uuid")).toMatchObject({ valid: false, type: "uuid" });
    expect(fake.calls.some((c) => c.fn === "tenant_backup_tenant_key")).toBe(true);
  });
});

describe("endpoints", () => {
  it.each([
    ["direct", () => services],
    ["PostgREST", () => viaRpc],
  ])("answer 400 naming organization_id for a value that is not a uuid (%s)", async (_path, pick) => {
    const list = await call(handleListBackups, pick(), "list-backups", {
      method: "GET",
      token: TEST_CRON_SECRET,
      query: { organization_id: "not-a-uuid" },
    });
    expect(list.status).toBe(400);
    expect(list.body.error.details.field).toBe("organization_id");
    expect(list.body.error.message).toContain("is not a valid uuid");
    const backup = await call(handleBackupTenantData, pick(), "backup-tenant-data", {
      token: TEST_CRON_SECRET,
      body: { organization_id: "not-a-uuid" },
    });
    expect(backup.status).toBe(400);
    expect(backup.body.error.details.field).toBe("organization_id");
  });

  it("store a backup asked for under the no-hyphen spelling in the tenant's one folder, where listing finds it", async () => {
    const made = await call(handleBackupTenantData, services, "backup-tenant-data", {
      token: TEST_CRON_SECRET,
      body: { organization_id: bare(bluewater) },
    });
    expect(made.status, JSON.stringify(made.body)).toBe(200);
    expect(made.body.backup.organization_id).toBe(bluewater);
    expect(made.body.backup.summary_path).toMatch(new RegExp(`^tenant-backups/${bluewater}/`));
    expect(await services.storage.list(`tenant-backups/${bare(bluewater)}/`)).toEqual([]);

    for (const [path, spelling] of [
      [services, bluewater.toUpperCase()],
      [viaRpc, bluewater],
    ] as const) {
      const listed = await call(handleListBackups, path, "list-backups", {
        method: "GET",
        token: TEST_CRON_SECRET,
        query: { organization_id: spelling },
      });
      expect(listed.status).toBe(200);
      expect(listed.body.organization_id).toBe(bluewater);
      expect(listed.body.backups.map((b: { backup_id: string }) => b.backup_id)).toContain(
        made.body.backup.backup_id,
      );
    }
  });

  it("let only one of two restores of one tenant under two spellings run at once (409 for the other)", async () => {
    const made = await call(handleBackupTenantData, services, "backup-tenant-data", {
      token: TEST_CRON_SECRET,
      body: { organization_id: cedar },
    });
    expect(made.status).toBe(200);
    // Slow storage keeps the first restore inside its lease while the second asks for it.
    const slow = { ...services, storage: slowed(services.storage, 60) } as Services;
    const restore = (organizationId: string) =>
      call(handleRestoreTenantData, slow, "restore-tenant-data", {
        token: TEST_CRON_SECRET,
        body: {
          organization_id: organizationId,
          backup_date: made.body.backup.backup_date,
          backup_id: made.body.backup.backup_id,
          dry_run: false,
        },
      });
    const answers = await Promise.all([restore(cedar), restore(bare(cedar).toUpperCase())]);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409]);
    const busy = answers.find((a) => a.status === 409);
    expect(busy?.body.error.message).toBe(
      `tenant ${cedar} is busy: restore running until ${busy?.body.error.details.expires_at}`,
    );
  });
});

function slowed(storage: BackupStorage, ms: number): BackupStorage {
  const pause = () => new Promise((resolve) => setTimeout(resolve, ms));
  return {
    kind: storage.kind,
    put: async (path, data, type) => {
      await pause();
      await storage.put(path, data, type);
    },
    get: async (path) => {
      await pause();
      return storage.get(path);
    },
    list: (prefix) => storage.list(prefix),
    remove: (paths) => storage.remove(paths),
    getStream: async (path) => {
      await pause();
      return storage.getStream(path);
    },
    unwrap: () => storage,
  };
}
