/**
 * Mark and sweep of a tenant's chunks: what no kept backup names goes, nothing a kept backup or a running
 * backup names ever does, a sweep killed half way loses nothing, and a backup never writes a summary
 * naming a chunk that is gone. Backups written in the per-backup file layout stay readable beside them.
 */
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handleDownloadBackup } from "../../functions/download-backup.ts";
import { deleteBackup } from "../../lib/backup/delete.ts";
import { type StoredBackup, tenantInventory } from "../../lib/backup/inventory.ts";
import type { Manifest } from "../../lib/backup/manifest.ts";
import { readManifest } from "../../lib/backup/reader.ts";
import { backupTenant } from "../../lib/backup/tenant-backup.ts";
import { chunksPrefix } from "../../lib/chunks/paths.ts";
import { applyRetention } from "../../lib/retention/apply.ts";
import type { BackupStorage } from "../../lib/storage/port.ts";
import {
  APP_SMALL_CHUNKS_ENV,
  backup,
  createAppDatabase,
  restore,
  workspaceSnapshot,
} from "../restore/app.ts";
import { readVerifiedFile } from "../support/backup-files.ts";
import { send } from "../support/call.ts";
import { deadlineIn } from "../support/clock.ts";
import type { TestDatabase } from "../support/database.ts";
import { createTestServices, TEST_CRON_SECRET, type TestServices } from "../support/services.ts";

let db: TestDatabase;
let services: TestServices;

beforeAll(async () => {
  db = await createAppDatabase();
  services = await createTestServices(db.url, APP_SMALL_CHUNKS_ENV);
});

afterAll(async () => {
  await services?.cleanup();
  await db?.drop();
});

const chunkPaths = async (storage: BackupStorage = services.storage) =>
  new Set((await storage.list(chunksPrefix("w1"))).map((o) => o.path));
const named = (manifest: Manifest) => new Set(manifest.tables.flatMap((t) => t.files.map((f) => f.path)));
const stored = (b: { backupId: string; date: string; summaryPath: string }): StoredBackup => b;

/** Every file of the backup read back through the checked reader; answers its rows. */
async function readWhole(manifest: Manifest): Promise<number> {
  let rows = 0;
  for (const table of manifest.tables) {
    for (const file of table.files)
      rows += (await readVerifiedFile(services.storage, file)).split("\n").length - 1;
  }
  return rows;
}

async function change(n: number) {
  await db.client.query(
    `update contacts set phone = 'day ${n}' where workspace_id = 'w1' and id % 17 = ${n}`,
  );
  await db.client.query(
    `insert into contacts (workspace_id, first_name, last_name, email) values ('w1', 'New', 'Day ${n}', 'day${n}@example.com')`,
  );
}

const retention = (s = services) =>
  applyRetention(s, { tenantId: "w1", dryRun: false, deadline: deadlineIn(s), actor: "test" });

describe("chunk sweep", () => {
  it("deletes only the chunks no kept backup names, and every kept backup restores exactly", async () => {
    const first = await backup(services, "w1", "2026-11-18");
    await change(1);
    const second = await backup(services, "w1", "2026-11-19");
    const secondState = await workspaceSnapshot(db.client, "= 'w1'");
    await change(2);
    const third = await backup(services, "w1", "2026-11-20");
    const onlyFirst = [...named(first.manifest)].filter(
      (p) => !named(second.manifest).has(p) && !named(third.manifest).has(p),
    );
    expect(onlyFirst.length).toBeGreaterThan(0);

    await deleteBackup(services, "w1", stored({ ...first, date: "2026-11-18" }), {
      type: "delete",
      reason: "test",
      actor: "test",
    });
    const dry = await applyRetention(services, {
      tenantId: "w1",
      dryRun: true,
      deadline: deadlineIn(services),
      actor: "test",
    });
    expect(dry.tenants[0]?.chunks?.unreferenced).toBe(onlyFirst.length);
    for (const path of onlyFirst) expect((await chunkPaths()).has(path)).toBe(true);

    const result = await retention();
    expect(result.tenants[0]?.chunks?.deleted).toBe(onlyFirst.length);
    const left = await chunkPaths();
    for (const path of onlyFirst) expect(left.has(path)).toBe(false);
    expect(left).toEqual(new Set([...named(second.manifest), ...named(third.manifest)]));

    const answer = await restore(services, {
      organization_id: "w1",
      backup_date: "2026-11-19",
      backup_id: second.backupId,
      dry_run: false,
    });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(await workspaceSnapshot(db.client, "= 'w1'")).toEqual(secondState);
  });

  it("killed half way loses nothing a kept backup names, and the next sweep finishes", async () => {
    await change(4);
    await backup(services, "w1", "2026-11-20");
    const inventory = await tenantInventory(services, "w1");
    const newest = inventory.backups[0] as StoredBackup;
    const manifest = await readManifest(services.storage, newest.summaryPath);
    for (const old of inventory.backups.slice(1)) {
      await deleteBackup(services, "w1", old, { type: "delete", reason: "test", actor: "test" });
    }
    const unnamed = [...(await chunkPaths())].filter((p) => !named(manifest).has(p));
    expect(unnamed.length).toBeGreaterThan(1);

    // The process dies inside its first remove(): one object gone, then nothing more.
    const dying: BackupStorage = {
      ...services.storage,
      kind: services.storage.kind,
      put: (...a) => services.storage.put(...a),
      get: (p) => services.storage.get(p),
      getStream: (p) => services.storage.getStream(p),
      list: (p) => services.storage.list(p),
      async remove(paths) {
        await services.storage.remove(paths.slice(0, 1));
        throw new Error("killed");
      },
    };
    const killed = await retention({ ...services, storage: dying });
    expect(killed.tenants[0]?.status).toBe("failed");
    expect((await chunkPaths()).size).toBe(unnamed.length - 1 + named(manifest).size);
    expect(await readWhole(manifest)).toBe(manifest.total_records);

    const again = await retention();
    expect(again.tenants[0]?.chunks?.deleted).toBe(unnamed.length - 1);
    expect(await chunkPaths()).toEqual(named(manifest));
    expect(await readWhole(manifest)).toBe(manifest.total_records);
  });

  it("keeps the chunks a backup cut by its time budget has stored or reused, so that it completes", async () => {
    // The cut run reuses these chunks: nothing changes in between.
    const { manifest: before } = await backup(services, "w1", "2026-11-21");
    const inventory = await tenantInventory(services, "w1");
    const cut = await backupTenant(services, {
      tenantId: "w1",
      tenantName: null,
      type: "manual",
      date: "2026-11-21",
      deadline: services.now().getTime() - 1,
    });
    expect(cut.status).toBe("incomplete");
    // No summary names any chunk now: only the cut run's progress does.
    for (const b of inventory.backups) {
      await deleteBackup(services, "w1", b, {
        type: "delete",
        reason: "test",
        actor: "test",
        readManifest: false,
      });
    }
    const swept = await retention();
    expect(swept.tenants[0]?.chunks?.deleted).toBeGreaterThan(0);
    const run = await services.db.getRun(cut.backupId);
    const held = (run?.progress as { tables: Record<string, { files: { path: string }[] }> } | undefined)
      ?.tables;
    if (!held) throw new Error("the cut run saved no progress");
    const heldPaths = Object.values(held).flatMap((t) => t.files.map((f) => f.path));
    expect(heldPaths.length).toBeGreaterThan(0);
    expect(heldPaths.every((p) => named(before).has(p))).toBe(true);
    expect(await chunkPaths()).toEqual(new Set(heldPaths));

    const done = await backupTenant(services, {
      tenantId: "w1",
      tenantName: null,
      type: "manual",
      date: "2026-11-21",
      deadline: deadlineIn(services),
      resumeBackupId: cut.backupId,
    });
    if (done.status !== "completed") throw new Error("the run did not complete");
    expect(await readWhole(done.manifest)).toBe(before.total_records);
    expect(named(done.manifest)).toEqual(named(before));
  });

  it("never writes a summary naming a chunk that went between its listing and its summary", async () => {
    const base = await createTestServices(db.url, {
      ...APP_SMALL_CHUNKS_ENV,
      BACKUP_DIR: services.backupDir,
    });
    try {
      let listed = 0;
      // Right after the run lists the chunk folder, every chunk is deleted, as a sweep that took an
      // expired lease would.
      const racing: BackupStorage = {
        ...base.storage,
        kind: base.storage.kind,
        put: (...a) => base.storage.put(...a),
        get: (p) => base.storage.get(p),
        getStream: (p) => base.storage.getStream(p),
        remove: (p) => base.storage.remove(p),
        async list(prefix) {
          const objects = await base.storage.list(prefix);
          if (prefix === chunksPrefix("w1") && listed++ === 0) {
            await base.storage.remove(objects.map((o) => o.path));
          }
          return objects;
        },
      };
      const summariesBefore = (await tenantInventory(base, "w1")).backups.length;
      await expect(
        backupTenant(
          { ...base, storage: racing },
          {
            tenantId: "w1",
            tenantName: null,
            type: "manual",
            date: "2026-11-22",
            deadline: deadlineIn(base),
          },
        ),
      ).rejects.toMatchObject({ code: "unavailable" });
      expect((await tenantInventory(base, "w1")).backups.length).toBe(summariesBefore);
      // The next backup stores them again.
      const next = await backup(base, "w1", "2026-11-22");
      expect(next.manifest.format_version === 3 && next.manifest.written_bytes).toBe(
        next.manifest.total_bytes,
      );
      expect(await readWhole(next.manifest)).toBe(next.manifest.total_records);
    } finally {
      await base.cleanup().catch(() => undefined);
    }
  });
});

describe("backups in the per-backup file layout", () => {
  it("stay readable beside chunked ones: restored exactly, downloaded, and left alone by the sweep", async () => {
    const files = await createTestServices(db.url, {
      ...APP_SMALL_CHUNKS_ENV,
      BACKUP_DIR: services.backupDir,
      BACKUP_LAYOUT: "files",
    });
    try {
      const state = await workspaceSnapshot(db.client, "= 'w1'");
      const old = await backup(files, "w1", "2026-11-23");
      expect(old.manifest.format_version).toBe(1);
      await change(3);
      const chunked = await backup(services, "w1", "2026-11-23");
      expect(chunked.manifest.format_version).toBe(3);
      await retention();
      expect(await readWhole(old.manifest)).toBe(old.manifest.total_records);

      const answer = await restore(services, {
        organization_id: "w1",
        backup_date: "2026-11-23",
        backup_id: old.backupId,
        dry_run: false,
      });
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      expect(await workspaceSnapshot(db.client, "= 'w1'")).toEqual(state);
    } finally {
      await files.cleanup().catch(() => undefined);
    }
  });
});

describe("download of a chunked backup", () => {
  const download = (query: Record<string, string>) =>
    send(handleDownloadBackup, services, "download-backup", { token: TEST_CRON_SECRET, query });

  it("answers a table rebuilt from its chunks as gzip JSON lines, and 422 naming a damaged chunk", async () => {
    // Contacts enough for several chunks of at most 2 KB.
    await db.client.query(`insert into contacts (workspace_id, first_name, last_name, email)
      select 'w1', 'More' || i, 'Contact' || i, 'w1-more-' || i || '@example.com' from generate_series(1, 60) i`);
    const made = await backup(services, "w1", "2026-11-24");
    const contacts = made.manifest.tables.toSorted((a, b) => b.files.length - a.files.length)[0];
    if (!contacts || contacts.files.length < 2) throw new Error("a table should span several chunks");
    let expected = "";
    for (const file of contacts.files) expected += await readVerifiedFile(services.storage, file);

    const query = { organization_id: "w1", backup_id: made.backupId };
    for (const file of [contacts.name, `${contacts.name}.jsonl.gz`]) {
      const answer = await download({ ...query, file });
      expect(answer.status).toBe(200);
      expect(answer.headers.get("content-type")).toBe("application/gzip");
      expect(gunzipSync(answer.bytes).toString("utf8")).toBe(expected);
    }
    const second = contacts.files[1]?.path as string;
    const one = await download({ ...query, file: second });
    expect(gunzipSync(one.bytes).toString("utf8")).toBe(
      await readVerifiedFile(services.storage, contacts.files[1] as never),
    );
    expect((await download({ ...query, file: "nothing" })).status).toBe(404);

    const intact = await services.storage.get(second);
    const { zstdCompressSync } = await import("node:zlib");
    await services.storage.put(second, zstdCompressSync(Buffer.from('["forged"]\n')), "application/zstd");
    try {
      const damaged = await download({ ...query, file: contacts.name });
      expect(damaged.status).toBe(422);
      expect(damaged.json().error.details).toEqual({ file: second });
    } finally {
      await services.storage.put(second, intact, "application/zstd");
    }
  });

  it("refuses a summary naming another tenant's chunk (422), whatever its checksum", async () => {
    const w2 = await backup(services, "w2", "2026-11-24");
    const made = await backup(services, "w1", "2026-11-25");
    const forged = structuredClone(made.manifest);
    const theirs = w2.manifest.tables[1]?.files[0];
    if (!theirs || !forged.tables[1]) throw new Error("no file to forge with");
    forged.tables[1].files = [theirs];
    await services.storage.put(made.summaryPath, Buffer.from(JSON.stringify(forged)), "application/json");
    await expect(readManifest(services.storage, made.summaryPath)).rejects.toMatchObject({
      code: "unprocessable",
      message: expect.stringContaining(`names file ${theirs.path} outside its backup`),
    });
  });
});
