/**
 * The chunk naming key and its variables: BACKUP_CHUNK_KEY names chunks when set (and nothing is kept in
 * storage); unset, one random key is created in storage once and reused; bad values name the variable.
 */
import { createHash, createHmac } from "node:crypto";
import { zstdDecompressSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHUNK_KEY_PATH, chunkKey } from "../../lib/chunks/key.ts";
import { ConfigError, loadConfig } from "../../lib/config.ts";
import { APP_ENV, backup, createAppDatabase } from "../restore/app.ts";
import type { TestDatabase } from "../support/database.ts";
import { createTestServices } from "../support/services.ts";

let db: TestDatabase;

beforeAll(async () => {
  db = await createAppDatabase();
});

afterAll(async () => {
  await db?.drop();
});

describe("chunk naming key", () => {
  it("names every chunk by the HMAC-SHA-256 of its text's SHA-256 under BACKUP_CHUNK_KEY, keeping no key in storage", async () => {
    const key = Buffer.alloc(32, 7);
    const services = await createTestServices(db.url, {
      ...APP_ENV,
      BACKUP_CHUNK_KEY: key.toString("base64"),
    });
    try {
      const made = await backup(services, "w1");
      const files = made.manifest.tables.flatMap((t) => t.files);
      expect(files.length).toBeGreaterThan(0);
      for (const file of files) {
        const text = zstdDecompressSync(await services.storage.get(file.path));
        const digest = createHash("sha256").update(text).digest();
        expect(file.sha256).toBe(digest.toString("hex"));
        const name = createHmac("sha256", key).update("rows-sha256\0").update(digest).digest("hex");
        expect(file.path).toBe(`tenant-backups/w1/chunks/${name}.jsonl.zst`);
      }
      expect(await services.storage.list("tenant-backup-keys/")).toEqual([]);
    } finally {
      await services.cleanup();
    }
  });

  it("unset, creates one random key in storage and reuses it", async () => {
    const services = await createTestServices(db.url, APP_ENV);
    try {
      const first = await backup(services, "w1");
      const stored = Buffer.from(await services.storage.get(CHUNK_KEY_PATH));
      expect(stored.length).toBe(32);
      // Another process of the same installation finds the same key, so the same rows get the same names.
      const other = await createTestServices(db.url, { ...APP_ENV, BACKUP_DIR: services.backupDir });
      try {
        expect(await chunkKey(other)).toEqual(stored);
        const second = await backup(other, "w1");
        if (second.manifest.format_version !== 3) throw new Error("not chunked");
        expect(second.manifest.written_bytes).toBe(0);
        expect(second.manifest.tables.map((t) => t.files)).toEqual(first.manifest.tables.map((t) => t.files));
      } finally {
        await other.cleanup();
      }
    } finally {
      await services.cleanup();
    }
  });

  it("refuses bad values, naming the variable", () => {
    const base = { DATABASE_URL: "postgres://localhost/app" };
    for (const [variable, value] of [
      ["BACKUP_CHUNK_KEY", Buffer.alloc(16).toString("base64")],
      ["BACKUP_CHUNK_KEY", "not base64 at all!"],
      ["BACKUP_LAYOUT", "tar"],
      ["BACKUP_CHUNK_TARGET_BYTES", "100"],
    ] as const) {
      try {
        loadConfig({ ...base, [variable]: value });
        expect.unreachable(`${variable}=${value} was accepted`);
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        expect((err as ConfigError).variable).toBe(variable);
      }
    }
    expect(loadConfig(base).backup).toMatchObject({
      layout: "chunks",
      chunkTargetBytes: 262_144,
      chunkKey: undefined,
    });
  });
});
