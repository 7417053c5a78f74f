/**
 * Encryption at rest through the real backup and restore, on a real database:
 * - with BACKUP_ENCRYPTION_KEY every object written is encrypted (nothing of the rows or the summary is
 *   readable in storage), the summary names the key id, and a restore gives the tenant back exactly;
 * - a byte changed in storage is detected and nothing is restored;
 * - a deployment without the backup's key answers a clear error naming the key id, never a key, and
 *   changes nothing (no rows, no log row, no object);
 * - rotation: an old key in BACKUP_DECRYPTION_KEYS reads old backups while new ones use the new key, and
 *   backups written before encryption was switched on stay readable;
 * - no key reaches a log line.
 */
import { createHash, randomBytes } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { setupServer } from "msw/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handleDownloadBackup } from "../../functions/download-backup.ts";
import { lineToCopyText } from "../../lib/backup/line-to-copy-text.ts";
import { splitLines } from "../../lib/backup/lines.ts";
import { readManifest } from "../../lib/backup/reader.ts";
import { ConfigError, loadConfig } from "../../lib/config.ts";
import { keyIdOf } from "../../lib/crypto/keys.ts";
import { LocalStorage } from "../../lib/storage/local.ts";
import {
  APP_ENV,
  BACKUP_DATE,
  backup,
  createAppDatabase,
  restore,
  restoreLogs,
  workspaceSnapshot,
} from "../restore/app.ts";
import { createFakeSupabaseStorage } from "../storage/fake-supabase-storage.ts";
import { send } from "../support/call.ts";
import type { TestDatabase } from "../support/database.ts";
import { createTestServices, TEST_CRON_SECRET, type TestServices } from "../support/services.ts";

const OLD_KEY = randomBytes(32);
const NEW_KEY = randomBytes(32);
const STRANGER_KEY = randomBytes(32);
const b64 = (key: Buffer) => key.toString("base64");
const ALL_KEY_TEXTS = [OLD_KEY, NEW_KEY, STRANGER_KEY].flatMap((k) => [b64(k), k.toString("hex")]);

let db: TestDatabase;
let plain: TestServices;
let dir: string;
const opened: TestServices[] = [];

/** Services on the same storage folder as `plain`, with these keys. */
async function withKeys(env: Record<string, string>): Promise<TestServices> {
  const services = await createTestServices(db.url, { ...APP_ENV, BACKUP_DIR: dir, ...env });
  opened.push(services);
  return services;
}

const raw = () => new LocalStorage(dir);
const body = (extra: Record<string, unknown> = {}) => ({
  organization_id: "w1",
  backup_date: BACKUP_DATE,
  dry_run: false,
  ...extra,
});

beforeAll(async () => {
  db = await createAppDatabase();
  plain = await createTestServices(db.url, APP_ENV);
  dir = plain.backupDir;
});

afterAll(async () => {
  for (const services of opened) await services.cleanup();
  await plain?.cleanup();
  await db?.drop();
});

describe("encryption at rest", () => {
  let encrypted: TestServices;
  let made: Awaited<ReturnType<typeof backup>>;
  let older: Awaited<ReturnType<typeof backup>>;
  let original: Record<string, string>;

  beforeAll(async () => {
    // Before encryption was switched on.
    older = await backup(plain, "w1", "2026-11-18");
    encrypted = await withKeys({ BACKUP_ENCRYPTION_KEY: b64(OLD_KEY) });
    original = await workspaceSnapshot(db.client, "= 'w1'");
    made = await backup(encrypted, "w1");
  });

  it("encrypts every object it writes, and the summary names the key id", async () => {
    const ours = [made.summaryPath, ...made.manifest.tables.flatMap((t) => t.files.map((f) => f.path))];
    expect(ours.length).toBeGreaterThan(4);
    for (const path of ours) {
      const stored = Buffer.from(await raw().get(path));
      expect(stored.subarray(0, 5).toString("latin1"), path).toBe("TBENC");
      // The key id in the header (after magic and version) is the write key's.
      expect(stored.subarray(6, 14).toString("hex")).toBe(keyIdOf(OLD_KEY));
      // What the object holds (read back through the decrypting storage) appears nowhere in what is stored.
      const clear = Buffer.from(await encrypted.storage.get(path));
      expect(stored.includes(clear.subarray(0, 24))).toBe(false);
    }
    const manifest = await readManifest(encrypted.storage, made.summaryPath);
    expect(manifest.encryption).toEqual({ algorithm: "AES-256-GCM", key_id: keyIdOf(OLD_KEY) });
    expect(manifest.organization_id).toBe("w1");
  });

  it("restores the tenant exactly from the encrypted backup", async () => {
    await db.client.query("delete from contacts where workspace_id = 'w1'");
    await db.client.query("update deals set stage = 'lost' where workspace_id = 'w1'");
    const answer = await restore(encrypted, body({ backup_id: made.backupId }));
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(await workspaceSnapshot(db.client, "= 'w1'")).toEqual(original);
  });

  it("detects one byte changed in storage, and restores nothing (422 naming the object)", async () => {
    const file = made.manifest.tables.find((t) => t.name === "deals")?.files[0]?.path as string;
    const intact = await raw().get(file);
    const altered = Buffer.from(intact);
    altered[altered.byteLength - 40] = (altered[altered.byteLength - 40] as number) ^ 0x20;
    await raw().put(file, altered, "application/octet-stream");
    await db.client.query("update deals set stage = 'lost' where workspace_id = 'w1'");
    const before = await workspaceSnapshot(db.client, "= 'w1'");
    try {
      for (const dryRun of [true, false]) {
        const answer = await restore(encrypted, body({ backup_id: made.backupId, dry_run: dryRun }));
        expect(answer.status, JSON.stringify(answer.body)).toBe(422);
        expect(answer.body.error.code).toBe("unprocessable");
        expect(answer.body.error.message).toContain(`backup object ${file} cannot be decrypted`);
        expect(answer.body.error.message).toContain("fails authentication");
        expect(await workspaceSnapshot(db.client, "= 'w1'")).toEqual(before);
      }
    } finally {
      await raw().put(file, intact, "application/octet-stream");
    }
  });

  it("answers a clear error naming the key id when the key is not configured, and changes nothing", async () => {
    for (const env of [{}, { BACKUP_ENCRYPTION_KEY: b64(STRANGER_KEY) }] as Record<string, string>[]) {
      const without = await withKeys(env);
      await db.client.query("update deals set stage = 'lost' where workspace_id = 'w1'");
      const before = await workspaceSnapshot(db.client, "= 'w1'");
      const logs = await restoreLogs(db.client);
      const objects = await raw().list("");
      for (const dryRun of [true, false]) {
        const answer = await restore(without, body({ backup_id: made.backupId, dry_run: dryRun }));
        expect(answer.status, JSON.stringify(answer.body)).toBe(500);
        expect(answer.body.error.code).toBe("encryption_key_missing");
        expect(answer.body.error.message).toBe(
          `backup object ${made.summaryPath} is encrypted with key ${keyIdOf(OLD_KEY)}, which is not configured: ` +
            "set it as BACKUP_ENCRYPTION_KEY or add it to BACKUP_DECRYPTION_KEYS",
        );
        for (const secret of ALL_KEY_TEXTS) expect(JSON.stringify(answer.body)).not.toContain(secret);
      }
      expect(await workspaceSnapshot(db.client, "= 'w1'")).toEqual(before);
      expect(await restoreLogs(db.client)).toEqual(logs);
      expect(await raw().list("")).toEqual(objects);
    }
  });

  it("rotates: an old key in BACKUP_DECRYPTION_KEYS reads old backups, new backups use the new key", async () => {
    const rotated = await withKeys({
      BACKUP_ENCRYPTION_KEY: b64(NEW_KEY),
      BACKUP_DECRYPTION_KEYS: b64(OLD_KEY),
    });
    const fresh = await backup(rotated, "w1", "2026-11-21");
    const manifest = await readManifest(rotated.storage, fresh.summaryPath);
    expect(manifest.encryption?.key_id).toBe(keyIdOf(NEW_KEY));
    expect(
      Buffer.from(await raw().get(fresh.summaryPath))
        .subarray(6, 14)
        .toString("hex"),
    ).toBe(keyIdOf(NEW_KEY));

    await db.client.query("update deals set stage = 'lost' where workspace_id = 'w1'");
    const answer = await restore(rotated, body({ backup_id: made.backupId }));
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(await workspaceSnapshot(db.client, "= 'w1'")).toEqual(original);

    // Without the old key, the old backup is refused and the new one is not.
    const newOnly = await withKeys({ BACKUP_ENCRYPTION_KEY: b64(NEW_KEY) });
    expect((await restore(newOnly, body({ backup_id: made.backupId, dry_run: true }))).status).toBe(500);
    const ok = await restore(
      newOnly,
      body({ backup_date: "2026-11-21", backup_id: fresh.backupId, dry_run: true }),
    );
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
  });

  it("reads backups written before encryption was switched on", async () => {
    expect(
      Buffer.from(await raw().get(older.summaryPath))
        .subarray(0, 1)
        .toString(),
    ).toBe("{");
    await db.client.query("update deals set stage = 'lost' where workspace_id = 'w1'");
    const answer = await restore(encrypted, body({ backup_date: "2026-11-18", backup_id: older.backupId }));
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(await workspaceSnapshot(db.client, "= 'w1'")).toEqual(original);
  });

  it("downloads a file decrypted, matching the summary's checksum, to the authorized caller only", async () => {
    const file = made.manifest.tables.find((t) => t.name === "contacts")?.files[0];
    if (!file) throw new Error("no contacts file");
    // The workspace's tables are small: they share contacts' chunk, each its slice of it, in order.
    const sharing = made.manifest.tables.filter((t) => t.files[0]?.path === file.path);
    expect(sharing.length).toBeGreaterThan(1);
    const query = { organization_id: "w1", backup_id: made.backupId, file: "contacts" };
    const texts: Buffer[] = [];
    for (const table of sharing) {
      const answer = await send(handleDownloadBackup, encrypted, "download-backup", {
        token: TEST_CRON_SECRET,
        query: { ...query, file: table.name },
      });
      expect(answer.status).toBe(200);
      texts.push(gunzipSync(answer.bytes));
    }
    // Each table comes rebuilt as gzip JSON lines; together, each line made a COPY row again, they are the
    // chunk's text, which the summary's sha256 is of.
    const rows = splitLines(Buffer.concat(texts))
      .filter((line) => line.length > 0)
      .map((line) => Buffer.concat([lineToCopyText(line), Buffer.from("\n")]));
    expect(createHash("sha256").update(Buffer.concat(rows)).digest("hex")).toBe(file.sha256);
    const summary = await send(handleDownloadBackup, encrypted, "download-backup", {
      token: TEST_CRON_SECRET,
      query: { organization_id: "w1", backup_id: made.backupId },
    });
    expect(JSON.parse(summary.text())).toMatchObject({ backup_id: made.backupId, organization_id: "w1" });
    const refused = await send(handleDownloadBackup, encrypted, "download-backup", { token: "wrong", query });
    expect(refused.status).toBe(401);
  });

  it("never writes a key to a log line", () => {
    const lines = [...plain.logLines, ...opened.flatMap((s) => s.logLines)].join("\n");
    expect(lines.length).toBeGreaterThan(0);
    for (const secret of ALL_KEY_TEXTS) expect(lines).not.toContain(secret);
  });
});

describe("downloads with Supabase Storage and a key", () => {
  const SUPABASE = "https://crypt-project.supabase.co";
  const SERVICE_KEY = "service-role-key-for-tests";
  const server = setupServer();
  beforeAll(() => server.listen({ onUnhandledRequest: "error" }));
  afterAll(() => server.close());

  it("streams the decrypted file through the function instead of a signed URL to ciphertext", async () => {
    const fake = createFakeSupabaseStorage({ url: SUPABASE, key: SERVICE_KEY });
    server.resetHandlers(...fake.handlers);
    // The per-backup file layout, where files (not only summaries) would otherwise go out as signed URLs.
    const services = await withKeys({
      BACKUP_LAYOUT: "files",
      SUPABASE_URL: SUPABASE,
      SUPABASE_SERVICE_ROLE_KEY: SERVICE_KEY,
      BACKUP_STORAGE: "supabase",
      BACKUP_ENCRYPTION_KEY: b64(NEW_KEY),
    });
    const made = await backup(services, "w2");
    const file = made.manifest.tables.find((t) => t.name === "deals")?.files[0];
    if (!file) throw new Error("no deals file");
    expect(
      Buffer.from(fake.objects().get(file.path)?.data ?? [])
        .subarray(0, 5)
        .toString(),
    ).toBe("TBENC");
    const answer = await send(handleDownloadBackup, services, "download-backup", {
      token: TEST_CRON_SECRET,
      query: { organization_id: "w2", backup_id: made.backupId, file: file.path.split("/").at(-1) as string },
    });
    expect(answer.status).toBe(200);
    expect(answer.headers.get("content-type")).toBe("application/zstd");
    expect(createHash("sha256").update(answer.bytes).digest("hex")).toBe(file.sha256);
    const summary = await send(handleDownloadBackup, services, "download-backup", {
      token: TEST_CRON_SECRET,
      query: { organization_id: "w2", backup_id: made.backupId },
    });
    expect(JSON.parse(summary.text())).toMatchObject({ backup_id: made.backupId });
  });
});

describe("key configuration", () => {
  const base = { DATABASE_URL: "postgres://x@localhost/x" };
  const configError = (env: Record<string, string>) => {
    try {
      loadConfig({ ...base, ...env });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return err as ConfigError;
    }
    throw new Error("the configuration was accepted");
  };

  it("refuses a key that is not 32 bytes of base64, naming the variable and not the value", () => {
    for (const bad of [b64(randomBytes(16)), "not base64 at all!", b64(randomBytes(33))]) {
      const err = configError({ BACKUP_ENCRYPTION_KEY: bad });
      expect(err.variable).toBe("BACKUP_ENCRYPTION_KEY");
      expect(err.message).toContain("must be 32 random bytes in base64");
      expect(err.message).not.toContain(bad);
    }
    const err = configError({ BACKUP_DECRYPTION_KEYS: `${b64(OLD_KEY)},${b64(randomBytes(31))}` });
    expect(err.variable).toBe("BACKUP_DECRYPTION_KEYS");
    expect(err.message).not.toContain(b64(OLD_KEY));
  });

  it("reads the write key and the older keys", () => {
    const config = loadConfig({
      ...base,
      BACKUP_ENCRYPTION_KEY: b64(NEW_KEY),
      BACKUP_DECRYPTION_KEYS: ` ${b64(OLD_KEY)}, ${STRANGER_KEY.toString("base64url")} ,`,
    });
    expect(config.encryption.writeKey?.equals(NEW_KEY)).toBe(true);
    expect(config.encryption.readKeys.map((k) => k.toString("hex"))).toEqual([
      OLD_KEY.toString("hex"),
      STRANGER_KEY.toString("hex"),
    ]);
  });
});
