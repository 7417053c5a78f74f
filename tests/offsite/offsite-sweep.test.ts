/**
 * The off-site sweep on a real S3-compatible server (s3rver on 127.0.0.1), with encryption on: after
 * offsite-copy's retention, the chunks and file copies no off-site summary names are deleted from the
 * bucket, those a kept off-site backup names stay and restore, and a copy in progress loses nothing (one
 * holding the tenant's lease, one cut by its time budget); an off-site summary that cannot be read stops
 * the tenant's sweep with nothing deleted.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handleOffsiteCopy } from "../../functions/offsite-copy.ts";
import type { Manifest } from "../../lib/backup/manifest.ts";
import { chunkPath, chunksPrefix } from "../../lib/chunks/paths.ts";
import { tryLease } from "../../lib/lease.ts";
import type { BackupStorage } from "../../lib/storage/port.ts";
import { APP_ENV, backup, createAppDatabase, restore, workspaceSnapshot } from "../restore/app.ts";
import { readVerifiedFile } from "../support/backup-files.ts";
import { call } from "../support/call.ts";
import { storageTakingTime } from "../support/clock.ts";
import type { TestDatabase } from "../support/database.ts";
import { startS3Server, type TestS3Server } from "../support/s3-server.ts";
import { createTestServices, TEST_CRON_SECRET, type TestServices } from "../support/services.ts";

const KEY = randomBytes(32);
let s3: TestS3Server;
let db: TestDatabase;
let services: TestServices;
const INVOICE = Uint8Array.from({ length: 9_000 }, (_, i) => (i * 7) % 256);
const OLD = Uint8Array.from({ length: 5_000 }, (_, i) => (i * 11) % 256);
const META = { contentType: "application/pdf", cacheControl: "max-age=60" };
type Made = Awaited<ReturnType<typeof backup>>;
let first: Made;
let second: Made;
let third: Made;
let secondState: Record<string, string>;

const offsite = () => services.offsite as BackupStorage;
const copy = (using: TestServices = services) =>
  call(handleOffsiteCopy, using, "offsite-copy", { token: TEST_CRON_SECRET, body: {} });
/** What is in the tenant's off-site chunk folder (chunks and file copies). */
const offsiteChunks = async () => new Set((await offsite().list(chunksPrefix("w1"))).map((o) => o.path));
/** Every chunk and file copy a backup names. */
const named = (manifest: Manifest) =>
  new Set([
    ...manifest.tables.flatMap((t) => t.files.map((f) => f.path)),
    ...(manifest.files?.objects ?? []).map((f) => f.stored_as),
  ]);
const union = (...sets: Set<string>[]) => new Set(sets.flatMap((s) => [...s]));
/** A chunk as a copy in progress would have uploaded it: its summary is not written yet. */
const STRAY = chunkPath("w1", "ab".repeat(32));

async function change(n: number) {
  await db.client.query(
    `update contacts set phone = 'week ${n}' where workspace_id = 'w1' and id % 13 = ${n}`,
  );
}

beforeAll(async () => {
  s3 = await startS3Server(["offsite"]);
  db = await createAppDatabase();
  services = await createTestServices(db.url, {
    ...APP_ENV,
    // Small chunks, so that a change disturbs a few of many.
    BACKUP_CHUNK_TARGET_BYTES: "4096",
    TENANT_FILE_BUCKETS: "invoices:{organization_id}/",
    TENANT_FILES_DIR: await mkdtemp(join(tmpdir(), "offsite-sweep-files-")),
    ...s3.env("offsite", "sweep/"),
    BACKUP_ENCRYPTION_KEY: KEY.toString("base64"),
  });
  services.clock.set("2026-11-10T03:00:00Z");
  const invoices = services.files.bucket("invoices");
  await invoices.put("w1/invoice.pdf", INVOICE, META);
  await invoices.put("w1/old.pdf", OLD, META);
  first = await backup(services, "w1", "2026-11-02");
  await change(1);
  await invoices.remove(["w1/old.pdf"]);
  second = await backup(services, "w1", "2026-11-09");
  secondState = await workspaceSnapshot(db.client, "= 'w1'");
  const answer = await copy();
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  expect(answer.body.offsite.copied).toHaveLength(2);
});

afterAll(async () => {
  await services?.cleanup();
  await db?.drop();
  await s3?.close();
});

describe("off-site sweep", () => {
  it("keeps what a copy cut by its time budget uploaded, its summary still to come", async () => {
    // Many new rows: the week's copy has more chunks to send than one call's budget allows.
    await db.client.query(
      `insert into contacts (workspace_id, first_name, last_name, email)
       select 'w1', 'New', 'Contact ' || n, 'new' || n || '@example.com' from generate_series(1, 400) n`,
    );
    services.clock.set("2026-11-17T03:00:00Z");
    third = await backup(services, "w1", "2026-11-16");
    // Every off-site write takes 15 s of the 40 s budget: the call stops after a few files.
    const slow = { ...services, offsite: storageTakingTime(offsite() as never, services.clock, 15_000) };
    const cut = await copy(slow);
    expect(cut.status, JSON.stringify(cut.body)).toBe(202);
    expect(cut.body.offsite.chunks_removed).toBe(0);
    const uploaded = [...(await offsiteChunks())].filter(
      (p) => !union(named(first.manifest), named(second.manifest)).has(p),
    );
    expect(uploaded.length).toBeGreaterThan(0);
    expect(uploaded.every((p) => named(third.manifest).has(p))).toBe(true);

    const done = await copy();
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    expect(done.body.offsite.copied.map((c: { backup_id: string }) => c.backup_id)).toEqual([third.backupId]);
    expect(done.body.offsite.chunks_removed).toBe(0);
    expect(await offsiteChunks()).toEqual(
      union(named(first.manifest), named(second.manifest), named(third.manifest)),
    );
  });

  it("never deletes a chunk of a copy in progress that holds the tenant's lease; once it is gone, sweeps it", async () => {
    const taken = await tryLease(services, "w1", "offsite-copy");
    if (!("lease" in taken)) throw new Error("w1 is busy");
    await offsite().put(STRAY, new Uint8Array([1, 2, 3]), "application/zstd");
    const other = await backup(services, "w2", "2026-11-16");
    try {
      const during = await copy();
      expect(during.status, JSON.stringify(during.body)).toBe(202);
      expect(during.body.offsite).toMatchObject({
        complete: false,
        // The busy tenant is left for the next call; the others are copied.
        copied: [{ organization_id: "w2", backup_id: other.backupId }],
        chunks_removed: 0,
        busy: [{ organization_id: "w1", operation: "offsite-copy" }],
      });
      expect((await offsiteChunks()).has(STRAY)).toBe(true);
    } finally {
      await taken.lease.release();
    }
    // The copy died before its summary: what it uploaded is named by nothing, and goes.
    const after = await copy();
    expect(after.status, JSON.stringify(after.body)).toBe(200);
    expect(after.body.offsite).toMatchObject({ chunks_removed: 1, busy: [] });
    expect((await offsiteChunks()).has(STRAY)).toBe(false);
  });

  it("stops a tenant's sweep, nothing deleted, when an off-site summary cannot be read", async () => {
    await offsite().put(STRAY, new Uint8Array([1, 2, 3]), "application/zstd");
    const summary = await offsite().get(third.summaryPath);
    await offsite().put(third.summaryPath, new TextEncoder().encode("{not json"), "application/json");
    try {
      const before = await offsiteChunks();
      const answer = await copy();
      expect(answer.status, JSON.stringify(answer.body)).toBe(500);
      expect(answer.body.offsite.chunks_removed).toBe(0);
      expect(answer.body.offsite.sweep_failed).toEqual([
        { organization_id: "w1", error: expect.stringContaining(third.summaryPath) },
      ]);
      expect(await offsiteChunks()).toEqual(before);
    } finally {
      await offsite().put(third.summaryPath, summary, "application/json");
    }
    const swept = await copy();
    expect(swept.body.offsite.chunks_removed).toBe(1);
  });

  it("after an off-site backup expires, deletes what only it named; shared ones stay and the kept backups restore", {
    timeout: 120_000,
  }, async () => {
    const kept = union(named(second.manifest), named(third.manifest));
    const onlyFirst = [...named(first.manifest)].filter((p) => !kept.has(p));
    const shared = [...named(first.manifest)].filter((p) => kept.has(p));
    expect(onlyFirst.some((p) => p.endsWith(".file"))).toBe(true); // old.pdf, gone from the bucket since
    expect(onlyFirst.some((p) => p.endsWith(".jsonl.zst"))).toBe(true);
    expect(shared.some((p) => p.endsWith(".file"))).toBe(true); // invoice.pdf
    expect(shared.some((p) => p.endsWith(".jsonl.zst"))).toBe(true);

    // 90 days after 2026-11-09: the copy of 2026-11-02 expires, those of the next two weeks stay.
    services.clock.set("2027-02-07T03:00:00Z");
    const answer = await copy();
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body.offsite.removed.map((r: { backup_id: string }) => r.backup_id)).toEqual([
      first.backupId,
    ]);
    expect(answer.body.offsite.chunks_removed).toBe(onlyFirst.length);
    expect(await offsiteChunks()).toEqual(kept);

    // Off-site alone (the primary is not read): the kept backups are whole and restore.
    let rows = 0;
    for (const file of third.manifest.tables.flatMap((t) => t.files)) {
      rows += (await readVerifiedFile(offsite(), file)).split("\n").length - 1;
    }
    expect(rows).toBe(third.manifest.total_records);
    const restored = await restore(services, {
      organization_id: "w1",
      backup_date: "2026-11-09",
      backup_id: second.backupId,
      dry_run: false,
      source: "offsite",
    });
    expect(restored.status, JSON.stringify(restored.body)).toBe(200);
    expect(await workspaceSnapshot(db.client, "= 'w1'")).toEqual(secondState);
    expect(Buffer.from(await services.files.bucket("invoices").get("w1/invoice.pdf"))).toEqual(
      Buffer.from(INVOICE),
    );
  });
});
