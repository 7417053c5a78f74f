/**
 * Tenants' uploaded files (TENANT_FILE_BUCKETS) in backups and restores, on both paths: the app's buckets
 * in a local folder (local runs), and in Supabase Storage through supabase-js against the Storage fake
 * (with the backups in Supabase Storage too). Tenants org-a and org-a1 are named so that one's id starts
 * the other's: a prefix check that forgot the closing '/' would hand one the other's files.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setupServer } from "msw/node";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { handleListBackups } from "../../functions/list-backups.ts";
import { handleRestoreTenantData } from "../../functions/restore-tenant-data.ts";
import { distinctObjects, type Manifest } from "../../lib/backup/manifest.ts";
import { runManualBackup } from "../../lib/backup/manual.ts";
import { summaryPath } from "../../lib/backup/paths.ts";
import { readManifest } from "../../lib/backup/reader.ts";
import { sweepChunks } from "../../lib/chunks/sweep.ts";
import { loadConfig } from "../../lib/config.ts";
import type { FileMetadata } from "../../lib/files/port.ts";
import { takeLease } from "../../lib/lease.ts";
import { restoreTenant } from "../../lib/restore/restore-tenant.ts";
import { runDrills } from "../../lib/verify/drill.ts";
import { projectKeys } from "../db/supabase-keys.ts";
import { installSmallApp, ORG_A, ORG_B } from "../operations/small-app.ts";
import { createFakeSupabaseStorage } from "../storage/fake-supabase-storage.ts";
import { call } from "../support/call.ts";
import { deadlineIn } from "../support/clock.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { createTestServices, TEST_CRON_SECRET, type TestServices } from "../support/services.ts";

const PROJECT_URL = "https://fake-project.supabase.co";
/** Its id starts with ORG_A's. */
const ORG_A1 = `${ORG_A}1`;
const BUCKETS = "invoices:{organization_id}/,photos:orgs/{organization_id}/";
const DATE = "2026-11-20";

const PDF: FileMetadata = { contentType: "application/pdf", cacheControl: "max-age=60" };
const PNG: FileMetadata = { contentType: "image/png", cacheControl: "max-age=3600" };

/** Bytes that are not text, so that any re-encoding on the way would show. */
function bytes(seed: number, length = 3000): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (seed * 31 + i * 7) % 256);
}

/** Every object of the given buckets as bucket/path → [metadata, bytes as hex], read through the store. */
async function snapshot(services: TestServices, prefixes: [string, string][]) {
  const seen: Record<string, [string, string | null, string]> = {};
  for (const [bucket, prefix] of prefixes) {
    const store = services.files.bucket(bucket);
    for (const file of await store.list(prefix)) {
      seen[`${bucket}/${file.path}`] = [
        file.contentType,
        file.cacheControl,
        Buffer.from(await store.get(file.path)).toString("hex"),
      ];
    }
  }
  return seen;
}

const OTHERS: [string, string][] = [
  ["invoices", `${ORG_B}/`],
  ["invoices", `${ORG_A1}/`],
  ["photos", `orgs/${ORG_B}/`],
  ["photos", `orgs/${ORG_A1}/`],
];

let db: TestDatabase;
const server = setupServer();
/** Downloads of tenant files from the app's buckets (Supabase path), as method and path. */
let downloads: string[] = [];
/** Every request to the app's buckets (Supabase path): listings included. */
let bucketRequests: string[] = [];

beforeAll(async () => {
  db = await createTestDatabase("migrated");
  await installSmallApp(db.owner);
  await db.owner.query(`insert into organizations values ('${ORG_A1}', 'Alpha One')`);
  server.listen({ onUnhandledRequest: "error" });
  server.events.on("request:start", ({ request }) => {
    const path = decodeURIComponent(new URL(request.url).pathname);
    if (/\/(invoices|photos)(\/|$)/.test(path)) bucketRequests.push(`${request.method} ${path}`);
    if (
      request.method === "GET" &&
      /^\/storage\/v1\/object\/(authenticated\/)?(invoices|photos)\//.test(path)
    ) {
      downloads.push(path);
    }
  });
  return async () => {
    server.close();
    await db.drop();
  };
});

type Backend = "local" | "supabase";
/** With BACKUP_ENCRYPTION_KEY set, the copies are stored encrypted: sizes in storage are no longer the files'. */
const ENCRYPTION_KEY = Buffer.alloc(32, 9).toString("base64");

describe.each<[Backend, "plain" | "encrypted"]>([
  ["local", "plain"],
  ["supabase", "plain"],
  ["local", "encrypted"],
  ["supabase", "encrypted"],
])("tenant files, %s, %s", (backend, encryption) => {
  let services: TestServices;
  let filesDir: string;
  let fake: ReturnType<typeof createFakeSupabaseStorage> | undefined;

  async function build(env: Record<string, string> = {}) {
    const keys = await projectKeys();
    const supabaseEnv: Record<string, string> =
      backend === "supabase"
        ? {
            SUPABASE_URL: PROJECT_URL,
            SUPABASE_SERVICE_ROLE_KEY: keys.serviceRole,
            BACKUP_STORAGE: "supabase",
          }
        : {};
    if (backend === "supabase") {
      fake = createFakeSupabaseStorage({
        url: PROJECT_URL,
        key: keys.serviceRole,
        buckets: ["backups", "invoices", "photos"],
      });
      server.resetHandlers(...fake.handlers);
    }
    const built = await createTestServices(db.url, {
      TENANT_FILE_BUCKETS: BUCKETS,
      TENANT_FILES_DIR: filesDir,
      BACKUP_CHUNK_KEY: Buffer.alloc(32, 7).toString("base64"),
      ...(encryption === "encrypted" ? { BACKUP_ENCRYPTION_KEY: ENCRYPTION_KEY } : {}),
      ...supabaseEnv,
      ...env,
    });
    built.clock.set(`${DATE}T10:00:00Z`);
    return built;
  }

  beforeEach(async () => {
    filesDir = await mkdtemp(join(tmpdir(), "tenant-files-"));
    services = await build();
    const put = (bucket: string, path: string, data: Uint8Array, meta: FileMetadata) =>
      services.files.bucket(bucket).put(path, data, meta);
    await put("invoices", `${ORG_A}/2026/inv-1.pdf`, bytes(1), PDF);
    await put("invoices", `${ORG_A}/2026/inv-2.pdf`, bytes(2), PDF);
    await put("photos", `orgs/${ORG_A}/logo.png`, bytes(3), PNG);
    await put("invoices", `${ORG_B}/inv-b.pdf`, bytes(4), PDF);
    await put("photos", `orgs/${ORG_B}/b.png`, bytes(5), PNG);
    await put("invoices", `${ORG_A1}/inv-a1.pdf`, bytes(6), PDF);
    await put("photos", `orgs/${ORG_A1}/a1.png`, bytes(7), PNG);
  });

  afterEach(async () => {
    await services.cleanup();
    await rm(filesDir, { recursive: true, force: true });
  });

  async function backup(tenantId = ORG_A): Promise<Manifest> {
    const result = await runManualBackup(services, tenantId, { deadline: deadlineIn(services) });
    if (result.status !== "completed") throw new Error("backup did not complete");
    return result.manifest;
  }

  function restore(options: { dryRun: boolean; files?: boolean | "only"; backupId: string }) {
    return restoreTenant(services, {
      tenantId: ORG_A,
      backupDate: DATE,
      backupId: options.backupId,
      dryRun: options.dryRun,
      files: options.files,
      deadline: deadlineIn(services),
    });
  }

  it("backs up exactly the tenant's files, with their metadata, counted in the backup's bytes", async () => {
    const manifest = await backup();
    const objects = manifest.files?.objects ?? [];
    expect(objects.map((o) => [o.bucket, o.path, o.content_type, o.cache_control, o.bytes]).sort()).toEqual([
      ["invoices", `${ORG_A}/2026/inv-1.pdf`, "application/pdf", "max-age=60", 3000],
      ["invoices", `${ORG_A}/2026/inv-2.pdf`, "application/pdf", "max-age=60", 3000],
      ["photos", `orgs/${ORG_A}/logo.png`, "image/png", "max-age=3600", 3000],
    ]);
    expect(manifest.files?.buckets).toEqual([
      { bucket: "invoices", prefix: `${ORG_A}/` },
      { bucket: "photos", prefix: `orgs/${ORG_A}/` },
    ]);
    // Each chunk once: the tenant's small tables share one.
    const rowBytes = distinctObjects(manifest.tables.flatMap((t) => t.files)).reduce(
      (n, f) => n + f.bytes,
      0,
    );
    expect(manifest.total_bytes).toBe(rowBytes + 9000);
    // Stored as they are, under the tenant's chunk folder.
    for (const object of objects) {
      expect(object.stored_as).toMatch(new RegExp(`^tenant-backups/${ORG_A}/chunks/[0-9a-f]{64}\\.file$`));
      expect(Buffer.from(await services.storage.get(object.stored_as))).toEqual(
        Buffer.from(bytes(Number(object.path.includes("inv-2") ? 2 : object.path.includes("inv-1") ? 1 : 3))),
      );
    }
    // The manifest is read back whole, files section included.
    const summaries = (await services.storage.list(`tenant-backups/${ORG_A}/${DATE}/`)).filter((o) =>
      o.path.includes("summary-"),
    );
    expect((await readManifest(services.storage, summaries[0]?.path ?? "")).files?.objects).toHaveLength(3);
  });

  it("list-backups counts the tenant's files and says when a copy of one is missing", async () => {
    const manifest = await backup();
    const listed = async () =>
      (
        await call(handleListBackups, services, "list-backups", {
          method: "GET",
          token: TEST_CRON_SECRET,
          query: { organization_id: ORG_A },
        })
      ).body.backups[0];
    expect(await listed()).toMatchObject({ tenant_files: 3, files_present: true });
    await services.storage.remove([manifest.files?.objects[0]?.stored_as ?? ""]);
    expect(await listed()).toMatchObject({ tenant_files: 3, files_present: false });
  });

  it("never uploads an unchanged file again", async () => {
    const first = await backup();
    downloads = [];
    const put = vi.spyOn(services.storage, "put");
    services.clock.set(`${DATE}T11:00:00Z`);
    const second = await backup();
    const uploadedFiles = put.mock.calls.map(([path]) => path).filter((path) => path.endsWith(".file"));
    expect(uploadedFiles).toEqual([]);
    expect(second.format_version === 3 && second.written_bytes).toBe(0);
    expect(second.files?.objects.map((o) => o.stored_as).sort()).toEqual(
      first.files?.objects.map((o) => o.stored_as).sort(),
    );
    // Supabase: the listing's version (update time and ETag) shows them unchanged, so none is even
    // downloaded (a local folder tells no version: each file is read from disk to compare).
    if (backend === "supabase") expect(downloads).toEqual([]);
    // A changed file is uploaded, once.
    await services.files.bucket("photos").put(`orgs/${ORG_A}/logo.png`, bytes(9), PNG);
    services.clock.set(`${DATE}T12:00:00Z`);
    downloads = [];
    await backup();
    expect(put.mock.calls.map(([path]) => path).filter((path) => path.endsWith(".file"))).toHaveLength(1);
    if (backend === "supabase")
      expect(downloads).toEqual([`/storage/v1/object/photos/orgs/${ORG_A}/logo.png`]);
  });

  it("dry run lists what would be added, replaced and removed; the restore makes it so, for this tenant only", async () => {
    const manifest = await backup();
    const others = await snapshot(services, OTHERS);
    await services.files.bucket("invoices").remove([`${ORG_A}/2026/inv-1.pdf`]);
    await services.files.bucket("photos").put(`orgs/${ORG_A}/logo.png`, bytes(8), PNG);
    // Same bytes, other metadata: replaced too.
    await services.files
      .bucket("invoices")
      .put(`${ORG_A}/2026/inv-2.pdf`, bytes(2), { ...PDF, contentType: "text/plain" });
    await services.files.bucket("photos").put(`orgs/${ORG_A}/later.png`, bytes(10, 50), PNG);
    const before = await snapshot(services, [
      ["invoices", `${ORG_A}/`],
      ["photos", `orgs/${ORG_A}/`],
    ]);

    const dry = await restore({ dryRun: true, backupId: manifest.backup_id });
    if (dry.status !== "done") throw new Error("dry run did not finish");
    expect(dry.files?.changes.sort((a, b) => (a.path < b.path ? -1 : 1))).toEqual([
      { bucket: "invoices", path: `${ORG_A}/2026/inv-1.pdf`, action: "add", bytes: 3000 },
      { bucket: "invoices", path: `${ORG_A}/2026/inv-2.pdf`, action: "replace", bytes: 3000 },
      { bucket: "photos", path: `orgs/${ORG_A}/later.png`, action: "remove", bytes: 50 },
      { bucket: "photos", path: `orgs/${ORG_A}/logo.png`, action: "replace", bytes: 3000 },
    ]);
    expect(
      await snapshot(services, [
        ["invoices", `${ORG_A}/`],
        ["photos", `orgs/${ORG_A}/`],
      ]),
    ).toEqual(before);

    const real = await restore({ dryRun: false, backupId: manifest.backup_id });
    if (real.status !== "done") throw new Error("restore did not finish");
    expect(real.report.success).toBe(true);
    expect(real.files).toMatchObject({ success: true, added: 1, replaced: 2, removed: 1, error: null });
    expect(
      await snapshot(services, [
        ["invoices", `${ORG_A}/`],
        ["photos", `orgs/${ORG_A}/`],
      ]),
    ).toEqual({
      [`invoices/${ORG_A}/2026/inv-1.pdf`]: [
        "application/pdf",
        "max-age=60",
        Buffer.from(bytes(1)).toString("hex"),
      ],
      [`invoices/${ORG_A}/2026/inv-2.pdf`]: [
        "application/pdf",
        "max-age=60",
        Buffer.from(bytes(2)).toString("hex"),
      ],
      [`photos/orgs/${ORG_A}/logo.png`]: ["image/png", "max-age=3600", Buffer.from(bytes(3)).toString("hex")],
    });
    if (fake) {
      // What Storage itself holds, not only what our listing makes of it.
      const raw = fake.objects("invoices").get(`${ORG_A}/2026/inv-1.pdf`);
      expect([raw?.contentType, raw?.cacheControl]).toEqual(["application/pdf", "max-age=60"]);
    }
    expect(await snapshot(services, OTHERS)).toEqual(others);

    // Run again: nothing left to change.
    const again = await restore({ dryRun: false, files: "only", backupId: manifest.backup_id });
    if (again.status !== "done") throw new Error("restore did not finish");
    expect(again.files).toMatchObject({ success: true, changes: [], unchanged: 3 });
  });

  it("a dry run right after the backup finds every file unchanged", async () => {
    const manifest = await backup();
    downloads = [];
    const dry = await restore({ dryRun: true, files: "only", backupId: manifest.backup_id });
    if (dry.status !== "done") throw new Error("dry run did not finish");
    expect(dry.files).toMatchObject({ changes: [], unchanged: 3 });
    // Supabase: the listing's version shows them untouched since the backup, so none is downloaded.
    if (backend === "supabase") expect(downloads).toEqual([]);
  });

  it("the verification drill rehearses the rows and leaves the app's buckets alone", async () => {
    await backup();
    bucketRequests = [];
    const result = await runDrills(services, { deadline: deadlineIn(services) });
    expect(result.drills.find((d) => d.organization_id === ORG_A)?.status).toBe("passed");
    expect(bucketRequests).toEqual([]);
  });

  it('files: "only" puts the files back and leaves the rows alone', async () => {
    const manifest = await backup();
    await db.client.query("update notes set body = 'changed since' where organization_id = $1", [ORG_A]);
    await services.files.bucket("invoices").remove([`${ORG_A}/2026/inv-2.pdf`]);
    const outcome = await restore({ dryRun: false, files: "only", backupId: manifest.backup_id });
    if (outcome.status !== "done") throw new Error("restore did not finish");
    expect(outcome.report.tables).toEqual({});
    expect(outcome.files).toMatchObject({ success: true, added: 1, replaced: 0, removed: 0 });
    const { rows } = await db.client.query("select distinct body from notes where organization_id = $1", [
      ORG_A,
    ]);
    expect(rows).toEqual([{ body: "changed since" }]);
    expect(Buffer.from(await services.files.bucket("invoices").get(`${ORG_A}/2026/inv-2.pdf`))).toEqual(
      Buffer.from(bytes(2)),
    );
  });

  it("files: false leaves the files alone; a backup without files refuses files: true", async () => {
    const manifest = await backup();
    await services.files.bucket("photos").put(`orgs/${ORG_A}/later.png`, bytes(10, 50), PNG);
    const outcome = await restore({ dryRun: false, files: false, backupId: manifest.backup_id });
    if (outcome.status !== "done") throw new Error("restore did not finish");
    expect(outcome.files).toBeNull();
    expect((await services.files.bucket("photos").list(`orgs/${ORG_A}/`)).map((f) => f.path)).toContain(
      `orgs/${ORG_A}/later.png`,
    );

    await services.cleanup();
    services = await build({ TENANT_FILE_BUCKETS: "" });
    services.clock.set(`${DATE}T13:00:00Z`);
    const rowsOnly = await backup(ORG_B);
    expect(rowsOnly.files).toBeUndefined();
    await expect(
      restoreTenant(services, {
        tenantId: ORG_B,
        backupDate: DATE,
        backupId: rowsOnly.backup_id,
        dryRun: true,
        files: true,
        deadline: deadlineIn(services),
      }),
    ).rejects.toMatchObject({ code: "bad_request" });
  });

  it("the chunk sweep deletes a file's copy once no kept backup names it, and keeps the rest", async () => {
    const first = await backup();
    await services.files.bucket("photos").put(`orgs/${ORG_A}/logo.png`, bytes(9), PNG);
    services.clock.set(`${DATE}T11:00:00Z`);
    const second = await backup();
    const copyOf = (m: Manifest) => m.files?.objects.find((o) => o.path.endsWith("logo.png"))?.stored_as;
    expect(copyOf(first)).not.toEqual(copyOf(second));
    await services.storage.remove([summaryPath(ORG_A, DATE, first.backup_id)]);
    const lease = await takeLease(services, ORG_A, "test");
    const swept = await sweepChunks(services, ORG_A, { dryRun: false, lease }).finally(() => lease.release());
    expect(swept.deleted).toBe(1);
    const stored = new Set(
      (await services.storage.list(`tenant-backups/${ORG_A}/chunks/`)).map((o) => o.path),
    );
    expect(stored.has(copyOf(first) ?? "")).toBe(false);
    for (const object of second.files?.objects ?? []) expect(stored.has(object.stored_as)).toBe(true);
  });

  it("a tenant with many files is backed up over several calls within each call's budget", async () => {
    for (let i = 0; i < 6; i++) {
      await services.files.bucket("invoices").put(`${ORG_A}/many/f-${i}.pdf`, bytes(20 + i, 100), PDF);
    }
    let result: Awaited<ReturnType<typeof runManualBackup>>;
    let calls = 0;
    do {
      // A budget already spent: each call does one step (a part, or a file) and stops.
      result = await runManualBackup(services, ORG_A, { deadline: services.clock.now().getTime() - 1 });
      calls += 1;
    } while (result.status === "incomplete" && calls < 50);
    if (result.status !== "completed") throw new Error("backup never completed");
    expect(calls).toBeGreaterThan(9);
    expect(result.manifest.files?.objects).toHaveLength(9);
  });

  it('restore-tenant-data takes files: true|false|"only" and answers the dry run\'s file changes', async () => {
    const manifest = await backup();
    await services.files.bucket("photos").put(`orgs/${ORG_A}/later.png`, bytes(10, 50), PNG);
    const answer = await call(handleRestoreTenantData, services, "restore-tenant-data", {
      token: TEST_CRON_SECRET,
      body: { organization_id: ORG_A, backup_date: DATE, backup_id: manifest.backup_id, files: "only" },
    });
    expect(answer.status).toBe(200);
    expect(answer.body.summary).toMatchObject({ dry_run: true, mode: "none", total_tables: 0 });
    expect(answer.body.files.changes).toEqual([
      { bucket: "photos", path: `orgs/${ORG_A}/later.png`, action: "remove", bytes: 50 },
    ]);
    const bad = await call(handleRestoreTenantData, services, "restore-tenant-data", {
      token: TEST_CRON_SECRET,
      body: { organization_id: ORG_A, backup_date: DATE, files: "all" },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/files/);
  });
});

describe("TENANT_FILE_BUCKETS", () => {
  const load = (value: string) => () =>
    loadConfig({ DATABASE_URL: "postgres://x", TENANT_FILE_BUCKETS: value });

  it("is read as bucket and tenant folder template pairs", () => {
    expect(load(BUCKETS)().files.buckets).toEqual([
      { bucket: "invoices", template: "{organization_id}/" },
      { bucket: "photos", template: "orgs/{organization_id}/" },
    ]);
    expect(load("")().files.buckets).toEqual([]);
  });

  it.each([
    ["invoices:{organization_id}", /TENANT_FILE_BUCKETS .*must end with '\/'/],
    ["invoices:orgs/org-{organization_id}/", /TENANT_FILE_BUCKETS .*whole folder name/],
    ["invoices:{organization_id}/{organization_id}/", /TENANT_FILE_BUCKETS .*exactly once/],
    ["invoices:orgs/", /TENANT_FILE_BUCKETS .*exactly once/],
    ["invoices:../{organization_id}/", /TENANT_FILE_BUCKETS .*'\.\.'/],
    ["invoices:/{organization_id}/", /TENANT_FILE_BUCKETS .*must not start with '\/'/],
    ["Invoices:{organization_id}/", /TENANT_FILE_BUCKETS .*not a valid bucket name/],
    ["invoices", /TENANT_FILE_BUCKETS .*bucket:template/],
    ["a1:{organization_id}/,a1:x/{organization_id}/", /TENANT_FILE_BUCKETS must not name a bucket twice/],
  ])("refuses %s, naming the variable", (value, message) => {
    expect(load(value)).toThrow(message);
  });
});
