/**
 * Chunks written before chunks were named from their SHA-256 (and cut by their UTF-8 bytes) carry the
 * keyed hash of their text as their name. A backup naming them still restores exactly; the first backup
 * after the change stores its chunks once more under the new names, the next one nothing; and the sweep
 * keeps the earlier chunks as long as a kept summary names them.
 */
import { createHmac } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteBackup } from "../../lib/backup/delete.ts";
import type { Manifest } from "../../lib/backup/manifest.ts";
import { readManifest } from "../../lib/backup/reader.ts";
import { decompressChunk } from "../../lib/chunks/codec.ts";
import { chunkKey } from "../../lib/chunks/key.ts";
import { chunkPath, chunksPrefix } from "../../lib/chunks/paths.ts";
import { applyRetention } from "../../lib/retention/apply.ts";
import {
  APP_SMALL_CHUNKS_ENV,
  backup,
  createAppDatabase,
  restore,
  workspaceSnapshot,
} from "../restore/app.ts";
import { deadlineIn } from "../support/clock.ts";
import type { TestDatabase } from "../support/database.ts";
import { createTestServices, type TestServices } from "../support/services.ts";

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

const named = (manifest: Manifest) => new Set(manifest.tables.flatMap((t) => t.files.map((f) => f.path)));
const storedChunks = async () =>
  new Set((await services.storage.list(chunksPrefix("w1"))).map((o) => o.path));
const written = (manifest: Manifest) => (manifest.format_version !== 1 ? manifest.written_bytes : null);

describe("chunks named by the earlier rule (the keyed hash of their text)", () => {
  it("still restore, are stored anew once under the new names, and are swept only once no summary names them", async () => {
    // A backup as an earlier version stored it: every chunk under the keyed hash of its text, and its
    // summary naming them there; nothing under the new names.
    const made = await backup(services, "w1", "2026-11-18");
    const key = await chunkKey(services);
    const earlier: Manifest = structuredClone(made.manifest);
    for (const file of earlier.tables.flatMap((t) => t.files)) {
      const data = await services.storage.get(file.path);
      const text = await decompressChunk(data);
      const path = chunkPath("w1", createHmac("sha256", key).update(text).digest("hex"));
      expect(path).not.toBe(file.path);
      await services.storage.remove([file.path]);
      await services.storage.put(path, data, "application/zstd");
      file.path = path;
    }
    await services.storage.put(made.summaryPath, Buffer.from(JSON.stringify(earlier)), "application/json");
    const earlierState = await workspaceSnapshot(db.client, "= 'w1'");
    const earlierChunks = named(earlier);
    expect(await storedChunks()).toEqual(earlierChunks);

    // The first backup since: the same rows, every chunk stored again under its new name.
    const first = await backup(services, "w1", "2026-11-19");
    expect([...named(first.manifest)].filter((p) => earlierChunks.has(p))).toEqual([]);
    expect(written(first.manifest)).toBe(first.manifest.total_bytes);
    // The next: nothing new.
    const second = await backup(services, "w1", "2026-11-20");
    expect(written(second.manifest)).toBe(0);
    expect(named(second.manifest)).toEqual(named(first.manifest));

    // The sweep keeps what the earlier summary names.
    const swept = await applyRetention(services, {
      tenantId: "w1",
      dryRun: false,
      deadline: deadlineIn(services),
      actor: "test",
    });
    expect(swept.tenants[0]?.chunks?.deleted).toBe(0);
    expect(await storedChunks()).toEqual(new Set([...earlierChunks, ...named(first.manifest)]));

    // And the earlier backup restores exactly, over changed rows.
    await db.client.query("update contacts set phone = 'changed' where workspace_id = 'w1'");
    const answer = await restore(services, {
      organization_id: "w1",
      backup_date: "2026-11-18",
      backup_id: made.backupId,
      dry_run: false,
    });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(await workspaceSnapshot(db.client, "= 'w1'")).toEqual(earlierState);

    // Once no summary names them, they go with the next sweep.
    await deleteBackup(
      services,
      "w1",
      { backupId: made.backupId, date: "2026-11-18", summaryPath: made.summaryPath },
      {
        type: "delete",
        reason: "test",
        actor: "test",
      },
    );
    const after = await applyRetention(services, {
      tenantId: "w1",
      dryRun: false,
      deadline: deadlineIn(services),
      actor: "test",
    });
    // Left: exactly what the summaries still kept name (the restore's undo point names the earlier chunks of
    // the tables it left as they were); the earlier chunks of the changed table are gone.
    const summaries = (await services.storage.list("tenant-backups/w1/")).filter((o) =>
      /\/summary-[^/]+\.json$/.test(o.path),
    );
    const kept = new Set<string>();
    for (const summary of summaries) {
      for (const path of named(await readManifest(services.storage, summary.path))) kept.add(path);
    }
    expect(await storedChunks()).toEqual(kept);
    expect(after.tenants[0]?.chunks?.deleted).toBeGreaterThan(0);
    expect([...earlierChunks].filter((p) => !kept.has(p))).toHaveLength(
      after.tenants[0]?.chunks?.deleted ?? -1,
    );
  });
});
