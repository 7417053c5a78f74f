/** `npm run decrypt`: what the setup guide tells people to run on a copied object. */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encrypt } from "../../lib/crypto/envelope.ts";
import { backupKey } from "../../lib/crypto/keys.ts";
import { pseudoRandomBytes } from "../storage/contract.ts";

const root = new URL("../../", import.meta.url).pathname;
const OLD = randomBytes(32);
const NEW = randomBytes(32);
let dir: string;

function decrypt(args: string[], env: Record<string, string>) {
  return spawnSync(process.execPath, ["--import", "tsx", `${root}scripts/decrypt.ts`, ...args], {
    cwd: root,
    env: { PATH: process.env.PATH ?? "", ...env },
    maxBuffer: 64 * 1024 * 1024,
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "decrypt-cli-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("npm run decrypt", () => {
  it("decrypts a copied object with an older key, to a file or standard output", async () => {
    const plain = pseudoRandomBytes(300_000, 5);
    const file = join(dir, "contacts.0000.jsonl.gz");
    await writeFile(file, encrypt(plain, backupKey(OLD)));
    const env = {
      BACKUP_ENCRYPTION_KEY: NEW.toString("base64"),
      BACKUP_DECRYPTION_KEYS: OLD.toString("base64"),
    };
    const out = join(dir, "plain.gz");
    const toFile = decrypt([file, "--out", out], env);
    expect(toFile.status, toFile.stderr.toString()).toBe(0);
    expect(Buffer.compare(await readFile(out), Buffer.from(plain))).toBe(0);
    const toStdout = decrypt([file], env);
    expect(toStdout.status).toBe(0);
    expect(Buffer.compare(toStdout.stdout, Buffer.from(plain))).toBe(0);
  });

  it("refuses an altered file without writing the output, and names a missing key without a key", async () => {
    const file = join(dir, "deals.0000.jsonl.gz");
    const sealed = encrypt(pseudoRandomBytes(1000, 6), backupKey(OLD));
    sealed[sealed.byteLength - 3] = (sealed[sealed.byteLength - 3] as number) ^ 1;
    await writeFile(file, sealed);
    const out = join(dir, "never.gz");
    const altered = decrypt([file, "--out", out], { BACKUP_ENCRYPTION_KEY: OLD.toString("base64") });
    expect(altered.status).toBe(1);
    expect(altered.stderr.toString()).toMatch(/cannot be decrypted: frame 0 fails authentication/);
    await expect(readFile(out)).rejects.toThrow();

    const missing = decrypt([file], { BACKUP_ENCRYPTION_KEY: NEW.toString("base64") });
    expect(missing.status).toBe(1);
    expect(missing.stderr.toString()).toContain(backupKey(OLD).id);
    expect(missing.stderr.toString()).not.toContain(NEW.toString("base64"));
    const badKey = decrypt([file], { BACKUP_ENCRYPTION_KEY: "too-short" });
    expect(badKey.status).toBe(1);
    expect(badKey.stderr.toString()).toContain("BACKUP_ENCRYPTION_KEY must be 32 random bytes in base64");
  });
});
