/**
 * download-backup and backup-details. Locally the file itself is streamed in chunks after its checksum
 * is checked; with Supabase Storage the answer is a short-lived signed URL the browser fetches directly.
 */
import { createHash } from "node:crypto";
import { zstdDecompressSync } from "node:zlib";
import { setupServer } from "msw/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handleBackupDetails } from "../../functions/backup-details.ts";
import { handleDownloadBackup } from "../../functions/download-backup.ts";
import { handleVerifyBackups } from "../../functions/verify-backups.ts";
import type { Manifest } from "../../lib/backup/manifest.ts";
import { runManualBackup } from "../../lib/backup/manual.ts";
import { createFakeSupabaseStorage } from "../storage/fake-supabase-storage.ts";
import { call, send } from "../support/call.ts";
import { deadlineIn } from "../support/clock.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { createTestServices, TEST_CRON_SECRET, type TestServices } from "../support/services.ts";
import { installSmallApp, ORG_A, ORG_B } from "./small-app.ts";

const SUPABASE = "https://storage-project.supabase.co";
const KEY = "service-role-key-for-tests";
const server = setupServer();
let db: TestDatabase;
let local: TestServices;
let backupId: string;
let summaryPath: string;
let manifest: Manifest;

beforeAll(async () => {
  server.listen({ onUnhandledRequest: "error" });
  db = await createTestDatabase("migrated");
  await installSmallApp(db.owner);
  local = await createTestServices(db.url, { BACKUP_LAYOUT: "files" });
  const result = await runManualBackup(local, ORG_A, { deadline: deadlineIn(local) });
  if (result.status !== "completed") throw new Error("backup did not complete");
  backupId = result.backupId;
  summaryPath = result.summaryPath;
  manifest = result.manifest;
});

afterAll(async () => {
  server.close();
  await local?.cleanup();
  await db?.drop();
});

const download = (query: Record<string, string>, services: TestServices = local) =>
  send(handleDownloadBackup, services, "download-backup", {
    token: TEST_CRON_SECRET,
    query: { organization_id: ORG_A, backup_id: backupId, ...query },
  });
const notesFile = () =>
  manifest.tables.find((t) => t.name === "notes")?.files[0] as Manifest["tables"][0]["files"][0];

describe("download-backup, local storage", () => {
  it("streams the summary when no file is named", async () => {
    const response = await download({});
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/json");
    expect(response.headers.get("content-disposition")).toContain(`summary-${backupId}.json`);
    expect(response.json()).toEqual(manifest);
    expect(response.headers.get("x-content-sha256")).toBe(
      createHash("sha256").update(response.bytes).digest("hex"),
    );
  });

  it("streams a table file named by its name or its full path, byte for byte", async () => {
    const file = notesFile();
    for (const name of [file.path.split("/").at(-1) as string, file.path]) {
      const response = await download({ file: name });
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe("application/zstd");
      expect(Number(response.headers.get("content-length"))).toBe(file.bytes);
      expect(createHash("sha256").update(response.bytes).digest("hex")).toBe(file.sha256);
      expect(zstdDecompressSync(response.bytes).toString("utf8").trim().split("\n")).toHaveLength(20);
    }
  });

  it("sends a file over 6 MB as a stream of chunks, never one buffered body", async () => {
    // Swap in a 7 MB file and make the manifest vouch for it.
    const big = new Uint8Array(7 * 1024 * 1024).map((_, i) => (i * 31) % 251);
    const file = notesFile();
    const originalFile = await local.storage.get(file.path);
    const doctored = structuredClone(manifest);
    const entry = doctored.tables.find((t) => t.name === "notes")?.files[0];
    if (!entry) throw new Error("no notes file");
    entry.bytes = big.byteLength;
    entry.sha256 = createHash("sha256").update(big).digest("hex");
    await local.storage.put(file.path, big, "application/gzip");
    await local.storage.put(summaryPath, Buffer.from(JSON.stringify(doctored)), "application/json");
    try {
      const url = new URL("http://localhost/.netlify/functions/download-backup");
      url.search = new URLSearchParams({
        organization_id: ORG_A,
        backup_id: backupId,
        file: file.path,
      }).toString();
      const response = await handleDownloadBackup.handle(
        new Request(url, { headers: { authorization: `Bearer ${TEST_CRON_SECRET}` } }),
        local,
      );
      expect(response.status).toBe(200);
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      let chunks = 0;
      let total = 0;
      let largest = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks += 1;
        total += value.byteLength;
        largest = Math.max(largest, value.byteLength);
      }
      expect(total).toBe(big.byteLength);
      expect(chunks).toBeGreaterThan(20);
      expect(largest).toBeLessThanOrEqual(1024 * 1024);
    } finally {
      await local.storage.put(file.path, originalFile, "application/gzip");
      await local.storage.put(summaryPath, Buffer.from(JSON.stringify(manifest)), "application/json");
    }
  });

  it("answers 422 rather than send a file whose checksum does not match", async () => {
    const file = manifest.tables.find((t) => t.name === "organizations")?.files[0];
    if (!file) throw new Error("no organizations file");
    const original = await local.storage.get(file.path);
    await local.storage.put(file.path, new Uint8Array([...original].reverse()), "application/gzip");
    try {
      const response = await download({ file: file.path });
      expect(response.status).toBe(422);
      expect(response.json().error.details.file).toBe(file.path);
    } finally {
      await local.storage.put(file.path, original, "application/gzip");
    }
  });

  it("answers 404 naming the field for an unknown backup or file, and 400 for a bad one", async () => {
    const noBackup = await download({ backup_id: "20200101T000000000Z-0000" });
    expect(noBackup.status).toBe(404);
    expect(noBackup.json().error.details.field).toBe("backup_id");
    const otherTenant = await download({ organization_id: ORG_B });
    expect(otherTenant.status).toBe(404);
    const noFile = await download({ file: "customers.0000.jsonl.gz" });
    expect(noFile.status).toBe(404);
    expect(noFile.json().error.details.field).toBe("file");
    // A key outside the backup is not in the manifest: never served, whatever it names.
    const outside = await download({ file: `tenant-backups/${ORG_B}/x/y.jsonl.gz` });
    expect(outside.status).toBe(404);
    const bad = await download({ file: "../../secret" });
    expect([400, 404]).toContain(bad.status);
    const unknownParam = await download({ format: "tar" });
    expect(unknownParam.status).toBe(400);
  });
});

describe("download-backup, Supabase Storage", () => {
  it("answers a short-lived signed URL that downloads the file", async () => {
    const fake = createFakeSupabaseStorage({ url: SUPABASE, key: KEY });
    server.resetHandlers(...fake.handlers);
    const services = await createTestServices(db.url, {
      SUPABASE_URL: SUPABASE,
      SUPABASE_SERVICE_ROLE_KEY: KEY,
      BACKUP_STORAGE: "supabase",
      BACKUP_LAYOUT: "files",
      DOWNLOAD_URL_TTL_SECONDS: "120",
    });
    try {
      const result = await runManualBackup(services, ORG_B, { deadline: deadlineIn(services) });
      if (result.status !== "completed") throw new Error("backup did not complete");
      const file = result.manifest.tables.find((t) => t.name === "notes")?.files[0];
      if (!file) throw new Error("no notes file");
      const response = await call(handleDownloadBackup, services, "download-backup", {
        method: "GET",
        token: TEST_CRON_SECRET,
        query: {
          organization_id: ORG_B,
          backup_id: result.backupId,
          file: file.path.split("/").at(-1) as string,
        },
      });
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({
        path: file.path,
        bytes: file.bytes,
        sha256: file.sha256,
        expires_in: 120,
      });
      expect(response.body.url).toMatch(new RegExp(`^${SUPABASE}/storage/v1/object/sign/backups/`));
      const fetched = new Uint8Array(await (await fetch(response.body.url)).arrayBuffer());
      expect(createHash("sha256").update(fetched).digest("hex")).toBe(file.sha256);

      const summary = await call(handleDownloadBackup, services, "download-backup", {
        method: "GET",
        token: TEST_CRON_SECRET,
        query: { organization_id: ORG_B, backup_id: result.backupId },
      });
      expect(summary.body.path).toBe(result.summaryPath);
      expect(await (await fetch(summary.body.url)).json()).toMatchObject({ backup_id: result.backupId });
    } finally {
      await services.cleanup();
    }
  });
});

describe("backup-details", () => {
  const details = (query: Record<string, string> = {}) =>
    call(handleBackupDetails, local, "backup-details", {
      method: "GET",
      token: TEST_CRON_SECRET,
      query: { organization_id: ORG_A, backup_id: backupId, ...query },
    });

  it("answers the listing and the whole manifest", async () => {
    const response = await details();
    expect(response.status).toBe(200);
    expect(response.body.backup).toMatchObject({
      backup_id: backupId,
      backup_type: "manual",
      status: "completed",
      files_present: true,
      tables: manifest.tables.length,
      total_records: manifest.total_records,
    });
    expect(response.body.manifest).toEqual(manifest);
    expect(response.body.file_problems).toEqual([]);
  });

  it("names the files that are missing", async () => {
    const file = notesFile();
    const original = await local.storage.get(file.path);
    await local.storage.remove([file.path]);
    try {
      const response = await details();
      expect(response.body.backup.files_present).toBe(false);
      expect(response.body.file_problems).toEqual([{ path: file.path, problem: "missing" }]);
    } finally {
      await local.storage.put(file.path, original, "application/gzip");
    }
  });

  it("answers 404 for an unknown backup and 422 for a damaged summary", async () => {
    expect((await details({ backup_id: "20200101T000000000Z-0000" })).status).toBe(404);
    const original = await local.storage.get(summaryPath);
    await local.storage.put(summaryPath, Buffer.from("{not json"), "application/json");
    try {
      const response = await details();
      expect(response.status).toBe(422);
    } finally {
      await local.storage.put(summaryPath, original, "application/json");
    }
  });
});

describe("backup-details of a chunked, encrypted backup", () => {
  // The default layout: the backup's rows are in chunks shared by the tenant's backups, outside the
  // backup's own folder, and each object is stored encrypted (larger than its recorded plain size).
  let chunked: TestServices;
  let id: string;
  let chunks: { path: string; bytes: number }[];
  beforeAll(async () => {
    chunked = await createTestServices(db.url, {
      BACKUP_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString("base64"),
      VERIFY_TENANTS_PER_CALL: "2",
    });
    const result = await runManualBackup(chunked, ORG_B, { deadline: deadlineIn(chunked) });
    if (result.status !== "completed") throw new Error("backup did not complete");
    id = result.backupId;
    chunks = result.manifest.tables.flatMap((t) => t.files);
  });
  afterAll(async () => {
    await chunked?.cleanup();
  });
  const details = () =>
    call(handleBackupDetails, chunked, "backup-details", {
      method: "GET",
      token: TEST_CRON_SECRET,
      query: { organization_id: ORG_B, backup_id: id },
    });

  it("finds every chunk it names and shows the last verification", async () => {
    expect(chunks.length).toBeGreaterThan(0);
    expect(chunks.every((c) => c.path.includes("/chunks/"))).toBe(true);
    const before = await details();
    expect(before.status).toBe(200);
    expect(before.body.file_problems).toEqual([]);
    expect(before.body.backup).toMatchObject({ files_present: true, verified_at: null, verification: null });

    const drill = await call(handleVerifyBackups, chunked, "verify-backups", { token: TEST_CRON_SECRET });
    expect(drill.status).toBe(200);
    const after = await details();
    expect(after.body.backup.verified_at).toEqual(expect.any(String));
    expect(after.body.backup.verification).toMatchObject({ status: "passed" });
  });

  it("names a chunk that is missing", async () => {
    const chunk = chunks[0] as { path: string };
    const stored = await chunked.storage.get(chunk.path);
    await chunked.storage.remove([chunk.path]);
    try {
      const response = await details();
      expect(response.body.backup.files_present).toBe(false);
      expect(response.body.file_problems).toEqual([{ path: chunk.path, problem: "missing" }]);
    } finally {
      await chunked.storage.put(chunk.path, stored, "application/octet-stream");
    }
  });
});
