/**
 * A chunk already stored is reused even when it was compressed otherwise (another zstd level, as backups
 * written before the level changed are): overwriting it would leave every earlier summary naming it at a
 * size it no longer has. A stored chunk that is damaged is written again.
 */
import { promisify } from "node:util";
import { constants, zstdCompress } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handleListBackups } from "../../functions/list-backups.ts";
import type { Manifest } from "../../lib/backup/manifest.ts";
import { runManualBackup } from "../../lib/backup/manual.ts";
import { decompressChunk } from "../../lib/chunks/codec.ts";
import { installSmallApp, ORG_A } from "../operations/small-app.ts";
import { call } from "../support/call.ts";
import { deadlineIn } from "../support/clock.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { createTestServices, TEST_CRON_SECRET, type TestServices } from "../support/services.ts";

let db: TestDatabase;
let services: TestServices;

beforeAll(async () => {
  db = await createTestDatabase("migrated");
  await installSmallApp(db.owner);
  services = await createTestServices(db.url, {});
});

afterAll(async () => {
  await services?.cleanup();
  await db?.drop();
});

async function backup() {
  const result = await runManualBackup(services, ORG_A, { deadline: deadlineIn(services) });
  if (result.status !== "completed") throw new Error("backup did not complete");
  return result;
}

async function listed(backupId: string) {
  const answer = await call(handleListBackups, services, "list-backups", {
    method: "GET",
    token: TEST_CRON_SECRET,
    query: { organization_id: ORG_A },
  });
  return answer.body.backups.find((b: { backup_id: string }) => b.backup_id === backupId);
}

const recompress = promisify(zstdCompress);

describe("chunks stored at another compression", () => {
  it("are reused as stored, and the backups naming them stay whole", async () => {
    const first = await backup();
    // Rewrite the first backup as an older version would have: every chunk at zstd level 19, and its
    // summary naming them at those sizes.
    const manifest: Manifest = structuredClone(first.manifest);
    let changed = 0;
    for (const file of manifest.tables.flatMap((t) => t.files)) {
      const text = await decompressChunk(await services.storage.get(file.path));
      const older = await recompress(text, { params: { [constants.ZSTD_c_compressionLevel]: 19 } });
      if (older.byteLength !== file.bytes) changed += 1;
      file.bytes = older.byteLength;
      await services.storage.put(file.path, older, "application/zstd");
    }
    expect(changed).toBeGreaterThan(0);
    await services.storage.put(first.summaryPath, Buffer.from(JSON.stringify(manifest)), "application/json");
    expect(await listed(first.backupId)).toMatchObject({ files_present: true });

    const second = await backup();
    expect(second.manifest.format_version).toBe(3);
    if (second.manifest.format_version !== 3) return;
    expect(second.manifest.written_bytes).toBe(0);
    expect(second.manifest.tables.flatMap((t) => t.files)).toEqual(manifest.tables.flatMap((t) => t.files));
    expect(await listed(first.backupId)).toMatchObject({ files_present: true });
    expect(await listed(second.backupId)).toMatchObject({ files_present: true });
  });

  it("are written again when damaged", async () => {
    const first = await backup();
    const file = first.manifest.tables.flatMap((t) => t.files)[0];
    if (!file) throw new Error("no chunk");
    const stored = await services.storage.get(file.path);
    await services.storage.put(file.path, stored.subarray(0, stored.byteLength - 3), "application/zstd");

    const second = await backup();
    const again = await services.storage.get(file.path);
    expect(second.manifest.format_version === 3 && second.manifest.written_bytes).toBe(again.byteLength);
    expect(await decompressChunk(again)).toEqual(await decompressChunk(stored));
    expect(await listed(second.backupId)).toMatchObject({ files_present: true });
  });
});
