/**
 * The encrypted object format on its own: exact round trips at every size around a frame boundary, read a
 * few bytes at a time; and every kind of change — a flipped byte anywhere, frames swapped, the end cut
 * off at a frame boundary, bytes appended, another key — fails instead of yielding altered plaintext.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { decryptChunks, encrypt, HEADER_BYTES, looksEncrypted } from "../../lib/crypto/envelope.ts";
import { backupKey } from "../../lib/crypto/keys.ts";
import { pseudoRandomBytes } from "../storage/contract.ts";

const key = backupKey(randomBytes(32));
const other = backupKey(randomBytes(32));
const FRAME = 1024;
const TAG = 16;

async function* inPieces(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.byteLength; at += size) yield bytes.subarray(at, at + size);
}

async function decrypt(sealed: Uint8Array, pieceSize = 100_000, keys = [key]): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  const keyFor = ({ keyId }: { keyId: string }) => {
    const found = keys.find((k) => k.id === keyId);
    if (!found) throw new Error(`no key ${keyId}`);
    return found.key;
  };
  for await (const part of decryptChunks(inPieces(sealed, pieceSize), keyFor)) parts.push(part);
  return Buffer.concat(parts);
}

async function rejection(sealed: Uint8Array): Promise<string> {
  try {
    await decrypt(sealed);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error("decryption of altered data succeeded");
}

describe("encrypted object format", () => {
  it("round-trips every size around frame boundaries exactly, read in small and odd pieces", async () => {
    for (const size of [0, 1, FRAME - 1, FRAME, FRAME + 1, 3 * FRAME, 3 * FRAME + 17]) {
      const plain = pseudoRandomBytes(size, size + 1);
      const sealed = encrypt(plain, key, FRAME);
      expect(looksEncrypted(sealed)).toBe(true);
      expect(sealed.byteLength).toBe(HEADER_BYTES + size + Math.max(1, Math.ceil(size / FRAME)) * TAG);
      for (const piece of [1, 7, FRAME + TAG, 100_000]) {
        expect(Buffer.compare(await decrypt(sealed, piece), Buffer.from(plain)), `${size}/${piece}`).toBe(0);
      }
    }
  });

  it("uses a fresh nonce per object: the same plaintext never encrypts the same way twice", () => {
    const plain = pseudoRandomBytes(5000, 3);
    expect(Buffer.compare(encrypt(plain, key, FRAME), encrypt(plain, key, FRAME))).not.toBe(0);
  });

  it("detects a flipped byte anywhere: header, any frame, any tag", async () => {
    const sealed = encrypt(pseudoRandomBytes(3 * FRAME + 5, 11), key, FRAME);
    // Every byte of the header (magic and version answer "no header"/"version"), then a spread over the rest.
    const positions = [...Array.from({ length: HEADER_BYTES }, (_, i) => i)];
    for (let at = HEADER_BYTES; at < sealed.byteLength; at += 97) positions.push(at);
    positions.push(sealed.byteLength - 1);
    for (const at of positions) {
      const altered = Buffer.from(sealed);
      altered[at] = (altered[at] as number) ^ 0x01;
      await expect(decrypt(altered), `byte ${at}`).rejects.toThrow();
    }
  });

  it("detects frames swapped, the end cut at a frame boundary, and bytes appended", async () => {
    const sealed = encrypt(pseudoRandomBytes(3 * FRAME, 12), key, FRAME);
    const frame = (i: number) =>
      sealed.subarray(HEADER_BYTES + i * (FRAME + TAG), HEADER_BYTES + (i + 1) * (FRAME + TAG));
    const header = sealed.subarray(0, HEADER_BYTES);
    const swapped = Buffer.concat([header, frame(1), frame(0), frame(2)]);
    expect(await rejection(swapped)).toMatch(/frame 0 fails authentication/);
    const cut = Buffer.concat([header, frame(0), frame(1)]);
    expect(await rejection(cut)).toMatch(/frame 1 fails authentication/);
    const appended = Buffer.concat([sealed, Buffer.from("x")]);
    expect(await rejection(appended)).toMatch(/frame 2 fails authentication/);
    expect(await rejection(sealed.subarray(0, HEADER_BYTES + 10))).toMatch(/cut short/);
    expect(await rejection(sealed.subarray(0, HEADER_BYTES - 1))).toMatch(/header/);
  });

  it("asks for the key id the object names, and reading with another key fails", async () => {
    const sealed = encrypt(pseudoRandomBytes(10, 1), key, FRAME);
    await expect(decrypt(sealed, 100, [other])).rejects.toThrow(`no key ${key.id}`);
    expect(key.id).toMatch(/^[0-9a-f]{16}$/);
    expect(other.id).not.toBe(key.id);
  });
});
