/**
 * The off-site copy on a real S3-compatible server (s3rver on 127.0.0.1), with encryption on:
 * - offsite-copy copies each tenant's first backup of each ISO week, encrypted, summary last, and a second
 *   call finds them there; a call out of time answers 202 with no summary off-site before its files, and the
 *   next call finishes;
 * - with the primary storage deleted, restore-tenant-data { source: "offsite" } gives the tenant back into a
 *   fresh database, with its uploaded files (TENANT_FILE_BUCKETS), reading only from the S3 server;
 * - off-site retention removes copies past OFFSITE_RETENTION_DAYS but a tenant's newest;
 * - no secret reaches a log line; source "offsite" without a copy target is a 400 naming the field.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handleOffsiteCopy } from "../../functions/offsite-copy.ts";
import { keyIdOf } from "../../lib/crypto/keys.ts";
import { S3Storage } from "../../lib/storage/s3.ts";
import { APP_ENV, backup, createAppDatabase, restore, workspaceSnapshot } from "../restore/app.ts";
import { call } from "../support/call.ts";
import { storageTakingTime } from "../support/clock.ts";
import type { TestDatabase } from "../support/database.ts";
import { startS3Server, type TestS3Server } from "../support/s3-server.ts";
import { createTestServices, TEST_CRON_SECRET, type TestServices } from "../support/services.ts";

const root = new URL("../../", import.meta.url).pathname;
const KEY = randomBytes(32);
const S3_SECRET = "offsite-secret-that-never-reaches-a-log";
const PREFIX = "site-a/";
let s3: TestS3Server;
let db: TestDatabase;
let services: TestServices;
let original: Record<string, string>;
const made: Record<string, Awaited<ReturnType<typeof backup>>> = {};
/** One of w1's uploaded files: not text, so that any re-encoding on the way would show. */
const INVOICE = Uint8Array.from({ length: 70_000 }, (_, i) => (i * 13) % 256);
const INVOICE_META = { contentType: "application/pdf", cacheControl: "max-age=60" };

/** What is in the bucket, seen without decryption. */
const rawOffsite = () => new S3Storage(s3.settings("offsite", PREFIX));
/** `filesDir`: the folder standing in for the app's buckets on this machine. */
const env = (filesDir: string) => ({
  ...APP_ENV,
  TENANT_FILE_BUCKETS: "invoices:{organization_id}/",
  TENANT_FILES_DIR: filesDir,
  ...s3.env("offsite", PREFIX),
  OFFSITE_S3_SECRET_ACCESS_KEY: S3_SECRET,
  BACKUP_ENCRYPTION_KEY: KEY.toString("base64"),
});
const copy = (using: TestServices | typeof services = services) =>
  call(handleOffsiteCopy, using, "offsite-copy", { token: TEST_CRON_SECRET, body: {} });

beforeAll(async () => {
  s3 = await startS3Server(["offsite"]);
  db = await createAppDatabase();
  services = await createTestServices(db.url, env(await mkdtemp(join(tmpdir(), "offsite-files-"))));
  services.clock.set("2026-11-24T03:00:00Z");
  await services.files.bucket("invoices").put("w1/2026/invoice-1.pdf", INVOICE, INVOICE_META);
  original = await workspaceSnapshot(db.client, "= 'w1'");
  // Two backups in the week of Monday 2026-11-16, one in the next; w2 has one.
  for (const date of ["2026-11-16", "2026-11-18", "2026-11-23"])
    made[date] = await backup(services, "w1", date);
  made.w2 = await backup(services, "w2", "2026-11-17");
});

afterAll(async () => {
  await services?.cleanup();
  await db?.drop();
  await s3?.close();
});

describe("offsite-copy", () => {
  it("stops at its time budget before any summary is off-site (the next call, below, finishes)", async () => {
    // Every off-site write takes 41 s of the 40 s budget: a call gets through one file only (w1's first
    // backup is its tables' one shared chunk, a copy of its uploaded file and its summary).
    const slow = {
      ...services,
      offsite: storageTakingTime(services.offsite as never, services.clock, 41_000),
    };
    const first = await copy(slow);
    expect(first.status, JSON.stringify(first.body)).toBe(202);
    expect(first.body.offsite.complete).toBe(false);
    const stored = (await rawOffsite().list("")).map((o) => o.path);
    expect(stored.length).toBeGreaterThan(0);
    expect(stored.filter((p) => p.includes("/summary-"))).toEqual([]);
  });

  it("copies each tenant's first backup of each ISO week, encrypted, and finds them there on the next call", async () => {
    const answer = await copy();
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const copied = answer.body.offsite.copied.map((c: { backup_id: string }) => c.backup_id).sort();
    expect(copied).toEqual([made["2026-11-16"], made["2026-11-23"], made.w2].map((m) => m?.backupId).sort());
    const summaries = (await rawOffsite().list("")).map((o) => o.path).filter((p) => p.includes("/summary-"));
    expect(summaries.sort()).toEqual(
      [made["2026-11-16"], made["2026-11-23"], made.w2].map((m) => m?.summaryPath).sort(),
    );
    // Every object off-site is encrypted with the write key.
    for (const object of await rawOffsite().list("")) {
      const stored = Buffer.from(await rawOffsite().get(object.path));
      expect(stored.subarray(0, 5).toString("latin1"), object.path).toBe("TBENC");
      expect(stored.subarray(6, 14).toString("hex")).toBe(keyIdOf(KEY));
    }
    const again = await copy();
    expect(again.status).toBe(200);
    expect(again.body.offsite).toMatchObject({ copied: [], present: 3, removed: [], failed: [] });
  });

  it("detects a copy altered off-site and replaces it on the next call", async () => {
    const file = made["2026-11-23"]?.manifest.tables[1]?.files[0]?.path as string;
    const summary = made["2026-11-23"]?.summaryPath as string;
    // A file changed and its summary gone: the copy of that week is made again, the file checked first.
    const altered = Buffer.from(await rawOffsite().get(file));
    altered[altered.byteLength - 1] = (altered[altered.byteLength - 1] as number) ^ 1;
    await rawOffsite().put(file, altered, "application/gzip");
    await rawOffsite().remove([summary]);
    const answer = await copy();
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body.offsite.copied.map((c: { backup_id: string }) => c.backup_id)).toEqual([
      made["2026-11-23"]?.backupId,
    ]);
    expect(Buffer.compare(Buffer.from(await rawOffsite().get(file)), altered)).not.toBe(0);
  });

  it("restores a tenant into a fresh database from the off-site copy alone, the primary storage gone", {
    timeout: 120_000,
  }, async () => {
    await rm(services.backupDir, { recursive: true, force: true });
    const fresh = await createAppDatabase(false);
    const filesElsewhere = await mkdtemp(join(tmpdir(), "offsite-files-elsewhere-"));
    const elsewhere = await createTestServices(fresh.url, env(filesElsewhere));
    try {
      await rm(elsewhere.backupDir, { recursive: true, force: true });
      expect(await elsewhere.storage.list("")).toEqual([]);
      // From a machine first (`npm run restore -- --source offsite`, a dry run): every row would be inserted.
      // Asynchronously: the S3 server answering it runs in this process.
      const cli = await promisify(execFile)(
        process.execPath,
        [
          "--import",
          "tsx",
          `${root}scripts/restore.ts`,
          "--organization",
          "w1",
          "--date",
          "2026-11-23",
          "--source",
          "offsite",
        ],
        {
          cwd: root,
          encoding: "utf8",
          env: {
            ...process.env,
            ...env(filesElsewhere),
            DATABASE_URL: fresh.url,
            BACKUP_DIR: elsewhere.backupDir,
            CRON_SECRET: "",
          },
        },
      );
      const dry = JSON.parse(cli.stdout).report;
      expect(dry.dry_run).toBe(true);
      expect(dry.tables.contacts).toMatchObject({ rows_now: 0 });
      expect(dry.tables.contacts.would_insert).toBeGreaterThan(0);
      const answer = await restore(elsewhere, {
        organization_id: "w1",
        backup_date: "2026-11-23",
        dry_run: false,
        source: "offsite",
      });
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      expect(answer.body.summary).toMatchObject({
        source: "offsite",
        backup_id: made["2026-11-23"]?.backupId,
      });
      expect(await workspaceSnapshot(fresh.client, "= 'w1'")).toEqual(original);
      expect(answer.body.files).toMatchObject({ success: true });
      const invoices = elsewhere.files.bucket("invoices");
      expect(Buffer.from(await invoices.get("w1/2026/invoice-1.pdf"))).toEqual(Buffer.from(INVOICE));
      expect((await invoices.list("w1/")).map((f) => [f.path, f.contentType, f.cacheControl])).toEqual([
        ["w1/2026/invoice-1.pdf", "application/pdf", "max-age=60"],
      ]);
      // From the primary, which is gone, there is nothing to restore.
      const primary = await restore(elsewhere, {
        organization_id: "w1",
        backup_date: "2026-11-23",
        dry_run: true,
      });
      expect(primary.status).toBe(404);
    } finally {
      await elsewhere.cleanup();
      await fresh.drop();
    }
  });

  it("removes off-site copies past OFFSITE_RETENTION_DAYS, keeping each tenant's newest", async () => {
    services.clock.set("2027-03-01T03:00:00Z");
    const answer = await copy();
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const removed = answer.body.offsite.removed.map((r: { backup_id: string }) => r.backup_id).sort();
    // The restore above left an undo point off-site for w1 (today's newest); w2's only copy stays.
    expect(removed).toEqual([made["2026-11-16"], made["2026-11-23"]].map((m) => m?.backupId).sort());
    const left = (await rawOffsite().list("")).map((o) => o.path);
    expect(left.some((p) => p.includes(made.w2?.backupId as string))).toBe(true);
    expect(left.some((p) => p.includes(made["2026-11-16"]?.backupId as string))).toBe(false);
  });

  it("never writes the encryption key or the S3 secret to a log line", () => {
    const lines = services.logLines.join("\n");
    expect(lines).toContain("copied off-site");
    for (const secret of [S3_SECRET, KEY.toString("base64"), KEY.toString("hex")])
      expect(lines).not.toContain(secret);
  });
});

describe("without an off-site copy", () => {
  it("answers source offsite and offsite-copy with a 400 naming what to set", async () => {
    const plain = await createTestServices(db.url, APP_ENV);
    try {
      const answer = await restore(plain, {
        organization_id: "w1",
        backup_date: "2026-11-23",
        source: "offsite",
      });
      expect(answer.status).toBe(400);
      expect(answer.body.error.details).toEqual({ field: "source", variable: "OFFSITE_S3_BUCKET" });
      const copied = await copy(plain);
      expect(copied.status).toBe(400);
      expect(copied.body.error.message).toContain("OFFSITE_S3_BUCKET");
    } finally {
      await plain.cleanup();
    }
  });
});
