/**
 * Per-backup files (format 1) are written as zstd now; backups written before hold gzip files, and a
 * reader picks the codec by the manifest's encoding (which fixes the files' suffix). An old backup, made
 * here as the earlier writer made it (each table file gzip at BACKUP_GZIP_LEVEL as `.jsonl.gz`, its
 * SHA-256 and size of those bytes, encoding jsonl-text-array+gzip), still restores exactly.
 */
import { createHash } from "node:crypto";
import { gzipSync, zstdDecompressSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Manifest } from "../../lib/backup/manifest.ts";
import { readManifest } from "../../lib/backup/reader.ts";
import type { TestDatabase } from "../support/database.ts";
import { createTestServices, type TestServices } from "../support/services.ts";
import { APP_ENV, BACKUP_DATE, backup, createAppDatabase, restore, workspaceSnapshot } from "./app.ts";

let db: TestDatabase;
let services: TestServices;

beforeAll(async () => {
  db = await createAppDatabase();
  services = await createTestServices(db.url, { ...APP_ENV, BACKUP_LAYOUT: "files" });
});

afterAll(async () => {
  await services?.cleanup();
  await db?.drop();
});

/** Rewrites backup `summaryPath` (zstd files) into the form format 1 had before: gzip files. */
async function asOldGzipBackup(summaryPath: string): Promise<Manifest> {
  const { storage } = services;
  const manifest = await readManifest(storage, summaryPath);
  if (manifest.format_version !== 1) throw new Error("not a format 1 backup");
  const tables = [];
  for (const table of manifest.tables) {
    const files = [];
    for (const file of table.files) {
      const gzip = gzipSync(zstdDecompressSync(await storage.get(file.path)), {
        level: services.config.backup.gzipLevel,
      });
      const path = file.path.replace(/\.jsonl\.zst$/, ".jsonl.gz");
      await storage.put(path, gzip, "application/gzip");
      await storage.remove([file.path]);
      files.push({
        ...file,
        path,
        bytes: gzip.byteLength,
        sha256: createHash("sha256").update(gzip).digest("hex"),
      });
    }
    tables.push({ ...table, files, bytes: files.reduce((n, f) => n + f.bytes, 0) });
  }
  const old: Manifest = {
    ...manifest,
    encoding: "jsonl-text-array+gzip",
    tables,
    total_bytes: tables.reduce((n, t) => n + t.bytes, 0),
  };
  await storage.put(summaryPath, Buffer.from(JSON.stringify(old)), "application/json");
  return old;
}

describe("a format 1 backup written with gzip, before files were zstd", () => {
  it("restores exactly, read by its manifest's encoding", async () => {
    const original = await workspaceSnapshot(db.client, "= 'w1'");
    const made = await backup(services, "w1");
    expect(made.manifest.encoding).toBe("jsonl-text-array+zstd");
    const first = made.manifest.tables[0]?.files[0]?.path as string;
    expect(first).toMatch(/\.jsonl\.zst$/);

    const old = await asOldGzipBackup(made.summaryPath);
    const oldFiles = old.tables.flatMap((t) => t.files);
    expect(oldFiles.length).toBeGreaterThan(0);
    for (const file of oldFiles) {
      // gzip's magic bytes: these are gzip files, and nothing zstd is left of the backup.
      expect(Buffer.from(await services.storage.get(file.path)).subarray(0, 2)).toEqual(
        Buffer.from([0x1f, 0x8b]),
      );
    }
    expect(
      (await services.storage.list(`tenant-backups/w1/${BACKUP_DATE}/`)).map((o) => o.path),
    ).not.toContain(first);

    await db.client.query(
      "delete from deal_notes where deal_id in (select id from deals where workspace_id = 'w1')",
    );
    await db.client.query("update deals set stage = 'lost' where workspace_id = 'w1'");
    await db.client.query("update contacts set email = 'x' || email where workspace_id = 'w1'");
    expect(await workspaceSnapshot(db.client, "= 'w1'")).not.toEqual(original);

    const answer = await restore(services, {
      organization_id: "w1",
      backup_date: BACKUP_DATE,
      backup_id: made.backupId,
      dry_run: false,
    });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body.summary.total_records_restored).toBe(old.total_records);
    expect(await workspaceSnapshot(db.client, "= 'w1'")).toEqual(original);
  });
});
