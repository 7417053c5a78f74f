/**
 * A small tenant's small tables share one chunk: its backup stores one object for its rows (and its
 * summary), each table's entry naming its slice of that chunk. Restored exactly, downloaded one table at a
 * time without a row of another, kept by the sweep while a summary names it; an older format 2 backup
 * (a chunk per table) still restores, verifies and downloads; and a backup cut by its time budget never
 * saves a small table as done before the chunk holding it is stored.
 */
import { gunzipSync } from "node:zlib";
import { to as copyTo } from "pg-copy-streams";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handleBackupDetails } from "../../functions/backup-details.ts";
import { handleDownloadBackup } from "../../functions/download-backup.ts";
import { copyTextToLine } from "../../lib/backup/copy-text.ts";
import { deleteBackup } from "../../lib/backup/delete.ts";
import { tenantInventory } from "../../lib/backup/inventory.ts";
import type { Manifest, ManifestFile } from "../../lib/backup/manifest.ts";
import { dayOfBackupId } from "../../lib/backup/paths.ts";
import { readManifest } from "../../lib/backup/reader.ts";
import { backupTenant } from "../../lib/backup/tenant-backup.ts";
import { decompressChunk } from "../../lib/chunks/codec.ts";
import { chunksPrefix } from "../../lib/chunks/paths.ts";
import { sweepChunks } from "../../lib/chunks/sweep.ts";
import { takeLease } from "../../lib/lease.ts";
import { restoreTenant } from "../../lib/restore/restore-tenant.ts";
import type { BackupStorage } from "../../lib/storage/port.ts";
import { runDrills } from "../../lib/verify/drill.ts";
import {
  APP_ENV,
  APP_TABLES,
  backup,
  createAppDatabase,
  restoreById,
  workspaceSnapshot,
} from "../restore/app.ts";
import { parseRows, readVerifiedFile, storeLinesChunk } from "../support/backup-files.ts";
import { send } from "../support/call.ts";
import { deadlineIn, storageTakingTime } from "../support/clock.ts";
import type { TestDatabase } from "../support/database.ts";
import { startFakeSupabase } from "../support/fake-supabase.ts";
import { createTestServices, TEST_CRON_SECRET, type TestServices } from "../support/services.ts";

let db: TestDatabase;
let services: TestServices;

beforeAll(async () => {
  db = await createAppDatabase();
  // The product's chunk sizes: every table of a workspace (a few KB each) is small.
  services = await createTestServices(db.url, APP_ENV);
});

afterAll(async () => {
  await services?.cleanup();
  await db?.drop();
});

const q = (sql: string) => db.client.query(sql);

/** The rows `select` gives, as PostgreSQL's COPY … TO STDOUT writes them. */
async function copyOut(select: string): Promise<string> {
  const parts: Buffer[] = [];
  for await (const part of db.client.query(copyTo(`copy (${select}) to stdout`))) parts.push(part as Buffer);
  return Buffer.concat(parts).toString("utf8");
}
const entry = (manifest: Manifest, table: string) => manifest.tables.find((t) => t.name === table);

/** Storage that records the path of every object written through it, and of every one read when given `read`. */
function recording(inner: BackupStorage, written: string[], read?: string[]): BackupStorage {
  return {
    kind: inner.kind,
    get: (path) => {
      read?.push(path);
      return inner.get(path);
    },
    list: (prefix) => inner.list(prefix),
    remove: (paths) => inner.remove(paths),
    getStream: (path) => inner.getStream(path),
    unwrap: () => inner,
    async put(path, data, contentType) {
      written.push(path);
      await inner.put(path, data, contentType);
    },
  };
}

/** A backup of w1 on `date`, and the tenant objects it wrote. */
async function backupW1(date: string) {
  const written: string[] = [];
  const made = await backup({ ...services, storage: recording(services.storage, written) }, "w1", date);
  return { ...made, written: written.filter((p) => p.startsWith("tenant-backups/")) };
}

const restoreW1 = (backupId: string, backupDate: string) => restoreById(services, "w1", backupId, backupDate);

async function changeW1(n: number) {
  await q(`update contacts set phone = 'edit ${n}' where workspace_id = 'w1' and id % 7 = ${n}`);
  await q(
    `delete from deal_notes n using deals d where d.id = n.deal_id and d.workspace_id = 'w1' and d.id % 5 = ${n}`,
  );
  await q(`update workspaces set name = 'Renamed ${n}' where id = 'w1'`);
}

describe("a small tenant's tables in one chunk", () => {
  it("are stored as one object, each table a slice of it, and restore exactly to the byte", async () => {
    const made = await backupW1("2026-11-10");
    const { manifest } = made;
    const chunk = manifest.tables[0]?.files[0] as ManifestFile;
    expect(made.written).toEqual([chunk.path, made.summaryPath]);
    expect(manifest.format_version === 3 && manifest.written_bytes).toBe(chunk.bytes);
    expect(manifest.total_bytes).toBe(chunk.bytes);

    // Every table one entry naming that chunk, with its rows: the slices one after the other, in order.
    let first = 0;
    for (const table of manifest.tables) {
      expect(table.files, table.name).toEqual([
        {
          ...chunk,
          rows: table.row_count,
          last_key: [String(table.row_count)],
          slice: { first, of: manifest.total_records },
        },
      ]);
      expect(table.row_count).toBeGreaterThan(0);
      first += table.row_count;
    }
    expect(manifest.tables.map((t) => t.name)).toEqual([...APP_TABLES]);

    // To the byte: each table's slice is what a backup of per-table files holds for it, and the slices
    // make up the chunk's whole text.
    const files = await createTestServices(db.url, { ...APP_ENV, BACKUP_LAYOUT: "files" });
    try {
      const asFiles = await backup(files, "w1", "2026-11-10");
      expect(asFiles.manifest.format_version).toBe(1);
      let whole = "";
      for (const table of manifest.tables) {
        const slice = await readVerifiedFile(services.storage, table.files[0] as ManifestFile);
        const own = entry(asFiles.manifest, table.name)?.files[0] as ManifestFile;
        expect(slice, table.name).toBe(await readVerifiedFile(files.storage, own));
        whole += slice;
      }
      // The chunk holds the rows as PostgreSQL's own COPY writes them, each table's after the one before.
      let copied = "";
      await q("begin");
      await q(
        "set local datestyle = 'ISO, YMD'; set local timezone = 'UTC'; set local extra_float_digits = 1",
      );
      for (const table of manifest.tables) {
        const columns = table.columns.map((c) => `"${c.name}"`).join(", ");
        const keys = (table.primary_key ?? []).map((k) => `"${k}"`).join(", ");
        const scope =
          table.name === "workspaces"
            ? "id = 'w1'"
            : table.name === "deal_notes"
              ? "deal_id in (select id from deals where workspace_id = 'w1')"
              : "workspace_id = 'w1'";
        copied += await copyOut(`select ${columns} from ${table.name} where ${scope} order by ${keys}`);
      }
      await q("commit");
      expect((await decompressChunk(await services.storage.get(chunk.path))).toString("utf8")).toBe(copied);
      expect(whole).toBe(
        copied
          .slice(0, -1)
          .split("\n")
          .map((row) => `${copyTextToLine(Buffer.from(row))}\n`)
          .join(""),
      );
    } finally {
      await files.cleanup();
    }

    const original = await workspaceSnapshot(db.client, "= 'w1'");
    const others = await workspaceSnapshot(db.client, "<> 'w1'");
    await changeW1(1);
    const changed = await workspaceSnapshot(db.client, "= 'w1'");
    expect(changed).not.toEqual(original);
    // A verification drill (a dry-run restore of each table's slice) passes, changing nothing.
    const drills = await runDrills(services, { deadline: deadlineIn(services) });
    expect(drills.drills).toEqual([
      expect.objectContaining({ backup_id: made.backupId, status: "passed", files: 1 }),
    ]);
    expect(await workspaceSnapshot(db.client, "= 'w1'")).toEqual(changed);
    const outcome = await restoreW1(made.backupId, "2026-11-10");
    expect(outcome.status === "done" && outcome.report.success, JSON.stringify(outcome)).toBe(true);
    expect(await workspaceSnapshot(db.client, "= 'w1'")).toEqual(original);
    expect(await workspaceSnapshot(db.client, "<> 'w1'")).toEqual(others);

    // Unchanged the next night: the same chunk, already stored; only the summary is written.
    const next = await backupW1("2026-11-11");
    expect(next.written).toEqual([next.summaryPath]);
    expect(next.manifest.format_version === 3 && next.manifest.written_bytes).toBe(0);
    expect(next.manifest.tables.map((t) => t.files)).toEqual(manifest.tables.map((t) => t.files));
  });

  it("are read from storage once by a restore, not once per table", async () => {
    const made = await backupW1("2026-11-13");
    const chunk = made.manifest.tables[0]?.files[0] as ManifestFile;
    expect(made.manifest.tables.every((t) => t.files[0]?.path === chunk.path)).toBe(true);
    const original = await workspaceSnapshot(db.client, "= 'w1'");
    await changeW1(2);

    const reads: string[] = [];
    const counting = recording(services.storage, [], reads);
    const outcome = await restoreTenant(
      { ...services, storage: counting },
      {
        tenantId: "w1",
        backupDate: "2026-11-13",
        backupId: made.backupId,
        dryRun: false,
        deadline: deadlineIn(services),
      },
    );
    expect(outcome.status === "done" && outcome.report.success, JSON.stringify(outcome)).toBe(true);
    expect(await workspaceSnapshot(db.client, "= 'w1'")).toEqual(original);
    expect(reads.filter((path) => path === chunk.path)).toHaveLength(1);
  });

  it("hand out one table's rows only: download by table, details, and 400 for the shared chunk itself", async () => {
    const made = await backupW1("2026-11-12");
    const { manifest } = made;
    const query = { organization_id: "w1", backup_id: made.backupId };
    const download = (file: string) =>
      send(handleDownloadBackup, services, "download-backup", {
        token: TEST_CRON_SECRET,
        query: { ...query, file },
      });
    const texts = new Map<string, string>();
    for (const table of manifest.tables) {
      const answer = await download(table.name);
      expect(answer.status, table.name).toBe(200);
      texts.set(table.name, gunzipSync(answer.bytes).toString("utf8"));
    }
    const lines = (text: string) => new Set(text.split("\n").filter((l) => l !== ""));
    for (const table of manifest.tables) {
      const text = texts.get(table.name) as string;
      expect(parseRows(text).length, table.name).toBe(table.row_count);
      // As many columns as the table has, in every row; no line of another table's.
      for (const row of parseRows(text)) expect(row.length, table.name).toBe(table.columns.length);
      for (const other of manifest.tables.filter((t) => t.name !== table.name)) {
        const theirs = lines(texts.get(other.name) as string);
        expect(
          [...lines(text)].filter((l) => theirs.has(l)),
          `${table.name} vs ${other.name}`,
        ).toEqual([]);
      }
    }
    const shared = manifest.tables[1]?.files[0]?.path as string;
    const asChunk = await download(shared);
    expect(asChunk.status).toBe(400);
    expect(asChunk.json().error.message).toContain(`holds rows of ${APP_TABLES.length} tables`);

    const details = await send(handleBackupDetails, services, "backup-details", {
      token: TEST_CRON_SECRET,
      query,
    });
    expect(details.status).toBe(200);
    expect(details.json().backup.files).toBe(1);
    expect(details.json().file_problems).toEqual([]);
    expect(details.json().manifest.tables[2].files[0].slice).toEqual(manifest.tables[2]?.files[0]?.slice);
  });

  it("is kept by the sweep while a summary names it, and goes once none does", async () => {
    const older = await backupW1("2026-11-13");
    await changeW1(2);
    const newer = await backupW1("2026-11-14");
    const newerState = await workspaceSnapshot(db.client, "= 'w1'");
    const oldChunk = older.manifest.tables[0]?.files[0]?.path as string;
    const newChunk = newer.manifest.tables[0]?.files[0]?.path as string;
    expect(newChunk).not.toBe(oldChunk);
    const stored = async () => new Set((await services.storage.list(chunksPrefix("w1"))).map((o) => o.path));

    const sweep = async () => {
      const lease = await takeLease(services, "w1", "retention");
      try {
        return await sweepChunks(services, "w1", { dryRun: false, lease });
      } finally {
        await lease.release();
      }
    };
    await sweep();
    expect(await stored()).toContain(oldChunk);
    expect(await stored()).toContain(newChunk);

    for (const b of (await tenantInventory(services, "w1")).backups.filter(
      (b) => b.backupId !== newer.backupId,
    )) {
      await deleteBackup(services, "w1", b, {
        type: "delete",
        reason: "test",
        actor: "test",
        readManifest: false,
      });
    }
    const swept = await sweep();
    expect(swept.deleted).toBeGreaterThan(0);
    expect(await stored()).not.toContain(oldChunk);
    expect(await stored()).toEqual(new Set([newChunk]));

    await changeW1(3);
    const outcome = await restoreW1(newer.backupId, "2026-11-14");
    expect(outcome.status === "done" && outcome.report.success, JSON.stringify(outcome)).toBe(true);
    expect(await workspaceSnapshot(db.client, "= 'w1'")).toEqual(newerState);
  });

  it("are named by a restore's undo point for the tables it leaves as they were, which restores exactly", async () => {
    const restored = await backupW1("2026-11-15");
    const before = await workspaceSnapshot(db.client, "= 'w1'");
    await q("update contacts set phone = 'undo' where workspace_id = 'w1' and id % 3 = 0");
    const changed = await workspaceSnapshot(db.client, "= 'w1'");
    const outcome = await restoreW1(restored.backupId, "2026-11-15");
    expect(outcome.status === "done" && outcome.report.success, JSON.stringify(outcome)).toBe(true);
    if (outcome.status !== "done") return;
    expect(await workspaceSnapshot(db.client, "= 'w1'")).toEqual(before);
    const undoId = outcome.undoBackupId as string;
    const undo = (await tenantInventory(services, "w1")).backups.find((b) => b.backupId === undoId);
    if (!undo) throw new Error("no undo point stored");
    const undoManifest = await readManifest(services.storage, undo.summaryPath);
    for (const table of APP_TABLES.filter((t) => t !== "contacts")) {
      expect(entry(undoManifest, table)?.files, table).toEqual(entry(restored.manifest, table)?.files);
      expect(entry(undoManifest, table)?.files[0]?.slice, table).toBeDefined();
    }
    const back = await restoreW1(undoId, dayOfBackupId(undoId));
    expect(back.status === "done" && back.report.success, JSON.stringify(back)).toBe(true);
    expect(await workspaceSnapshot(db.client, "= 'w1'")).toEqual(changed);
  });
});

describe("an older format 2 backup, a chunk per table", () => {
  it("still restores exactly, verifies and downloads", async () => {
    const made = await backupW1("2026-11-16");
    // Written as backups were before tables shared a chunk, and before chunks held COPY text: each table's
    // rows a chunk of lines of their own.
    const old = structuredClone(made.manifest);
    for (const table of old.tables) {
      const text = await readVerifiedFile(services.storage, table.files[0] as ManifestFile);
      const own = await storeLinesChunk(services, "w1", text.slice(0, -1).split("\n"));
      table.files = [own];
      table.bytes = own.bytes;
    }
    old.total_bytes = old.tables.reduce((n, t) => n + t.bytes, 0);
    const format2 = { ...old, format_version: 2, encoding: "jsonl-text-array+zstd-chunks" };
    await services.storage.put(made.summaryPath, Buffer.from(JSON.stringify(format2)), "application/json");
    const read = await readManifest(services.storage, made.summaryPath);
    expect(read.format_version).toBe(2);
    expect(new Set(read.tables.map((t) => t.files[0]?.path)).size).toBe(APP_TABLES.length);
    expect(
      read.tables.every((t) => t.files.every((f) => f.slice === undefined && f.text === undefined)),
    ).toBe(true);

    const drills = await runDrills(services, { deadline: deadlineIn(services) });
    expect(drills.drills).toEqual([
      expect.objectContaining({ backup_id: made.backupId, status: "passed", files: APP_TABLES.length }),
    ]);
    const state = await workspaceSnapshot(db.client, "= 'w1'");
    await changeW1(4);
    const changed = await workspaceSnapshot(db.client, "= 'w1'");
    const outcome = await restoreW1(made.backupId, "2026-11-16");
    expect(outcome.status === "done" && outcome.report.success, JSON.stringify(outcome)).toBe(true);
    expect(await workspaceSnapshot(db.client, "= 'w1'")).toEqual(state);

    // The undo point (format 3) names the format 2 chunk of deals, which the restore left as it was, and
    // chunks of COPY text for the rest; restored, it gives back the tenant as it was before, exactly.
    if (outcome.status !== "done") return;
    const undoId = outcome.undoBackupId as string;
    const undo = (await tenantInventory(services, "w1")).backups.find((b) => b.backupId === undoId);
    if (!undo) throw new Error("no undo point stored");
    const undoManifest = await readManifest(services.storage, undo.summaryPath);
    expect(undoManifest.format_version).toBe(3);
    expect(entry(undoManifest, "deals")?.files).toEqual(entry(read, "deals")?.files);
    for (const table of APP_TABLES.filter((t) => t !== "deals")) {
      expect(
        entry(undoManifest, table)?.files.every((f) => f.text === "copy"),
        table,
      ).toBe(true);
    }
    const back = await restoreW1(undoId, dayOfBackupId(undoId));
    expect(back.status === "done" && back.report.success, JSON.stringify(back)).toBe(true);
    expect(await workspaceSnapshot(db.client, "= 'w1'")).toEqual(changed);

    const query = { organization_id: "w1", backup_id: made.backupId };
    for (const table of read.tables) {
      const answer = await send(handleDownloadBackup, services, "download-backup", {
        token: TEST_CRON_SECRET,
        query: { ...query, file: table.name },
      });
      expect(answer.status).toBe(200);
      expect(gunzipSync(answer.bytes).toString("utf8")).toBe(
        await readVerifiedFile(services.storage, table.files[0] as ManifestFile),
      );
    }
    const details = await send(handleBackupDetails, services, "backup-details", {
      token: TEST_CRON_SECRET,
      query,
    });
    expect(details.json().backup.files).toBe(APP_TABLES.length);
    expect(details.json().file_problems).toEqual([]);
  });
});

describe("a backup cut by its time budget, through the Supabase API", () => {
  it("saves a small table as done only once the chunk holding it is stored, and restores exactly", async () => {
    // w2: deals and notes cut down to a few rows (small), contacts large (tens of KB) in chunks of 2 KB at
    // most, read in pages of 4 KB; every stored object takes 10 s of the clock, so the budget runs out
    // inside contacts. Through the API every call reads the run's copy of the tenant and saves its
    // progress now and then (here after nearly every stored chunk): also while a small table read before
    // waits for its shared chunk.
    await q(`insert into contacts (workspace_id, first_name, last_name, email)
             select 'w2', 'More' || i, 'Contact' || i, 'more' || i || '@example.com' from generate_series(1, 400) i`);
    await q(
      `delete from deal_notes n using deals d where d.id = n.deal_id and d.workspace_id = 'w2' and d.id % 10 <> 0`,
    );
    await q(`delete from deals d where d.workspace_id = 'w2' and d.id % 10 <> 0
             and not exists (select 1 from deal_notes n where n.deal_id = d.id)`);
    const supabase = await startFakeSupabase(db, "https://small-tables.supabase.co");
    const cut = await createTestServices(db.url, {
      ...supabase.env,
      ...APP_ENV,
      BACKUP_CHUNK_TARGET_BYTES: "4096",
      BACKUP_MAX_FILE_BYTES: "2048",
      BACKUP_LOCK_TTL_SECONDS: "15",
      BACKUP_PAGE_BYTES: "4096",
      BACKUP_DIR: services.backupDir,
    });
    try {
      const storage = storageTakingTime(cut.storage, cut.clock, 10_000);
      const timed = { ...cut, storage };
      const saveProgress = cut.db.saveProgressUnderLease.bind(cut.db);
      const saves: Record<string, boolean>[] = [];
      const stored = async () => new Set((await cut.storage.list(chunksPrefix("w2"))).map((o) => o.path));
      cut.db.saveProgressUnderLease = async (lease, ttlSeconds, backupId, progress) => {
        const tables = (progress as { tables: Record<string, { done: boolean; files: { path: string }[] }> })
          .tables;
        const present = await stored();
        for (const [name, state] of Object.entries(tables)) {
          if (!state.done) continue;
          // Every table of w2 has rows: done means rows in stored chunks.
          expect(state.files.length, `${name} done without its rows`).toBeGreaterThan(0);
          for (const f of state.files)
            expect(present.has(f.path), `${name} done before ${f.path} is stored`).toBe(true);
        }
        saves.push(Object.fromEntries(Object.entries(tables).map(([name, s]) => [name, s.done])));
        return saveProgress(lease, ttlSeconds, backupId, progress);
      };
      let result = await backupTenant(timed, {
        tenantId: "w2",
        tenantName: null,
        type: "manual",
        date: "2026-11-17",
        deadline: deadlineIn(cut, 25_000),
      });
      let calls = 1;
      while (result.status === "incomplete" && calls < 50) {
        result = await backupTenant(timed, {
          tenantId: "w2",
          tenantName: null,
          type: "manual",
          date: "2026-11-17",
          deadline: deadlineIn(cut, 25_000),
          resumeBackupId: result.backupId,
        });
        calls += 1;
      }
      if (result.status !== "completed") throw new Error("the run did not complete");
      expect(calls).toBeGreaterThan(1);
      // Saved while workspaces (small, read first) waited, and at the first stop, inside contacts, with it
      // stored and done.
      expect(saves.find((s) => s.contacts === false && s.workspaces === false)).toBeDefined();
      expect(saves.find((s) => s.contacts === false && s.workspaces)).toBeDefined();
      const { manifest } = result;
      expect(entry(manifest, "contacts")?.files.length).toBeGreaterThan(2);
      const last = manifest.tables.filter((t) => t.name === "deals" || t.name === "deal_notes");
      expect(last.map((t) => t.files.length)).toEqual([1, 1]);
      expect(last[0]?.files[0]?.path).toBe(last[1]?.files[0]?.path);
      expect(last.map((t) => t.files[0]?.slice?.first)).toEqual([0, last[0]?.row_count]);

      const state = await workspaceSnapshot(db.client, "= 'w2'");
      await q("update contacts set phone = 'cut' where workspace_id = 'w2'");
      await q("delete from deal_notes n using deals d where d.id = n.deal_id and d.workspace_id = 'w2'");
      const outcome = await restoreTenant(cut, {
        tenantId: "w2",
        backupDate: "2026-11-17",
        backupId: result.backupId,
        dryRun: false,
        deadline: deadlineIn(cut, 3_600_000),
      });
      expect(outcome.status === "done" && outcome.report.success, JSON.stringify(outcome)).toBe(true);
      expect(await workspaceSnapshot(db.client, "= 'w2'")).toEqual(state);
    } finally {
      await cut.cleanup().catch(() => undefined);
      await supabase.close();
    }
  });
});
