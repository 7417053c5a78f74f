/**
 * Storage is the source of truth, and it is checked before anything is touched.
 * - A missing file, a file swapped for other valid gzip, a summary that is not valid: 422 naming the object, and
 *   the tenant's data unchanged. No backup that day, or a backup_id of another day: 404.
 * - Disaster recovery: a database that never saw the backup (same schema, empty tables) is given the
 *   tenant back from the files alone.
 */
import { constants, zstdCompressSync, zstdDecompressSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ZSTD_LEVEL } from "../../lib/chunks/codec.ts";
import type { TestDatabase } from "../support/database.ts";
import { createTestServices, type TestServices } from "../support/services.ts";
import { snapshot } from "../support/snapshot.ts";
import {
  APP_ENV,
  APP_TABLES,
  BACKUP_DATE,
  backup,
  createAppDatabase,
  restore,
  restoreLogs,
  workspaceSnapshot,
} from "./app.ts";

let db: TestDatabase;
let services: TestServices;
let original: Record<string, string>;
let made: Awaited<ReturnType<typeof backup>>;
let earlier: Awaited<ReturnType<typeof backup>>;

const everything = () => snapshot(db.client, [...APP_TABLES]);
const body = (extra: Record<string, unknown> = {}) => ({
  organization_id: "w1",
  backup_date: BACKUP_DATE,
  dry_run: false,
  ...extra,
});

beforeAll(async () => {
  db = await createAppDatabase();
  services = await createTestServices(db.url, { ...APP_ENV, BACKUP_LAYOUT: "files" });
  original = await workspaceSnapshot(db.client, "= 'w1'");
  earlier = await backup(services, "w1", "2026-11-19");
  made = await backup(services, "w1");
  // Changed since, so that any restore that got through would show.
  await db.client.query("delete from contacts where id in (1, 2)");
  await db.client.query("update deals set stage = 'lost' where workspace_id = 'w1'");
});

afterAll(async () => {
  await services?.cleanup();
  await db?.drop();
});

/** Runs `damage` on a stored object, expects a 422 naming it with nothing changed, then puts it back. */
async function expectRefused(
  path: string,
  damage: (bytes: Uint8Array) => Uint8Array | null,
  message: string,
) {
  const intact = await services.storage.get(path);
  const damaged = damage(Buffer.from(intact));
  if (damaged) await services.storage.put(path, damaged, "application/octet-stream");
  else await services.storage.remove([path]);
  const before = await everything();
  try {
    for (const dryRun of [true, false]) {
      const answer = await restore(services, body({ dry_run: dryRun }));
      expect(answer.status, JSON.stringify(answer.body)).toBe(422);
      expect(answer.body.error).toEqual({ code: "unprocessable", message, details: { file: path } });
      expect(await everything()).toEqual(before);
    }
  } finally {
    await services.storage.put(path, intact, "application/octet-stream");
  }
}

describe("verification before anything is touched", () => {
  it("refuses a backup with a file missing from storage (422 naming it)", async () => {
    const file = made.manifest.tables.find((t) => t.name === "deals")?.files[0]?.path as string;
    const logs = await restoreLogs(db.client);
    await expectRefused(file, () => null, `backup file ${file} is missing`);
    // Both ran far enough to be logged, and both failed.
    expect(await restoreLogs(db.client)).toEqual([...logs, [true, "failed"], [false, "failed"]]);
  });

  it("refuses a file swapped for valid zstd of other rows of the same size, by its SHA-256 (422 naming it)", async () => {
    const file = made.manifest.tables.find((t) => t.name === "deal_notes")?.files[0]?.path as string;
    await expectRefused(
      file,
      (bytes) => {
        const swapped = sameSizeSwap(bytes);
        // Neither zstd's frame nor the size can tell: only the summary's SHA-256 of the file does.
        expect(zstdDecompressSync(swapped).toString()).not.toBe(zstdDecompressSync(bytes).toString());
        expect(swapped.byteLength).toBe(bytes.byteLength);
        return swapped;
      },
      `backup file ${file} is damaged: its checksum does not match the summary`,
    );
  });

  it("refuses a summary that is not valid (422 naming it)", async () => {
    const summary = made.summaryPath;
    await expectRefused(
      summary,
      (bytes) => bytes.subarray(0, bytes.length - 10),
      `backup summary ${summary} is not valid JSON`,
    );
    await expectRefused(
      summary,
      (bytes) =>
        Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(bytes).toString()), format_version: 99 })),
      `backup summary ${summary} is damaged or of an unknown format: format_version Invalid discriminator value. Expected '1' | '2' | '3'`,
    );
  });

  it("answers 404 for a day without a backup and for a backup_id of another day", async () => {
    const before = await everything();
    const none = await restore(services, body({ backup_date: "2026-11-01" }));
    expect(none.status).toBe(404);
    expect(none.body.error).toEqual({
      code: "not_found",
      message: "no completed backup of organization w1 on 2026-11-01",
      details: { field: "backup_date" },
    });
    const otherDay = await restore(services, body({ backup_id: earlier.backupId }));
    expect(otherDay.status).toBe(404);
    expect(otherDay.body.error).toEqual({
      code: "not_found",
      message: `no backup ${earlier.backupId} of organization w1 on ${BACKUP_DATE}`,
      details: { field: "backup_id" },
    });
    expect(await everything()).toEqual(before);
  });

  it("restores once storage is whole again", async () => {
    const real = await restore(services, body({ backup_id: made.backupId }));
    expect(real.status, JSON.stringify(real.body)).toBe(200);
    expect(await workspaceSnapshot(db.client, "= 'w1'")).toEqual(original);
  });
});

describe("disaster recovery", () => {
  it("restores a tenant into a fresh database that never saw the backup, from storage alone", async () => {
    const fresh = await createAppDatabase(false);
    const elsewhere = await createTestServices(fresh.url, { ...APP_ENV, BACKUP_DIR: services.backupDir });
    try {
      const dry = await restore(elsewhere, body({ dry_run: true }));
      expect(dry.status, JSON.stringify(dry.body)).toBe(200);
      expect(dry.body.success).toBe(true);
      for (const [name, table] of Object.entries(dry.body.tables)) {
        const rows = made.manifest.tables.find((t) => t.name === name)?.row_count;
        expect(table, name).toMatchObject({
          rows_now: 0,
          would_insert: rows,
          would_delete: 0,
          would_change: 0,
        });
      }

      const real = await restore(elsewhere, body());
      expect(real.status, JSON.stringify(real.body)).toBe(200);
      expect(real.body.summary.total_records_restored).toBe(made.records);
      expect(await workspaceSnapshot(fresh.client, "= 'w1'")).toEqual(original);
      expect(await workspaceSnapshot(fresh.client, "<> 'w1'")).toEqual(
        await workspaceSnapshot(fresh.client, "is null"),
      );
      // The fresh sequences were moved past the restored keys: the app's next insert just works.
      const next = await fresh.client.query(`insert into contacts (workspace_id, first_name, last_name, email)
        values ('w1', 'After', 'Recovery', 'after@example.com') returning id`);
      expect(next.rows[0].id).toBe("41");
    } finally {
      await elsewhere.cleanup();
      await fresh.drop();
    }
  });
});

/**
 * Valid zstd of the same size as `compressed` holding other rows: its rows without the first few (enough
 * to make it smaller), compressed again at the backup's level, padded to the same size by a skippable
 * frame, which every zstd reader passes over (magic 0x184D2A50, then its content's length, little-endian).
 */
function sameSizeSwap(compressed: Uint8Array): Uint8Array {
  const rows = zstdDecompressSync(compressed).toString("utf8").split("\n").filter(Boolean);
  for (let drop = 1; drop < rows.length; drop++) {
    const fewer = zstdCompressSync(`${rows.slice(drop).join("\n")}\n`, {
      params: { [constants.ZSTD_c_compressionLevel]: ZSTD_LEVEL },
    });
    const padding = compressed.byteLength - fewer.byteLength - 8;
    if (padding < 0) continue;
    const frame = Buffer.alloc(8 + padding, "x");
    frame.writeUInt32LE(0x184d2a50, 0);
    frame.writeUInt32LE(padding, 4);
    return Buffer.concat([fewer, frame]);
  }
  throw new Error("the file is too small to swap");
}
