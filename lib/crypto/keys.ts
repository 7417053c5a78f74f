/**
 * The keys backups are encrypted with: one to write (BACKUP_ENCRYPTION_KEY), any number to read
 * (that one and BACKUP_DECRYPTION_KEYS, older keys kept for rotation). Each is 32 random bytes, given as
 * base64. A key is known by its id, a short hash of it: safe to record in manifests and logs, and it
 * tells which key an object needs without saying anything about the key.
 */
import { createHash } from "node:crypto";

export const KEY_BYTES = 32;
/** Bytes of a key id in an object's header; written as 16 hex characters elsewhere. */
export const KEY_ID_BYTES = 8;

export interface BackupKey {
  /** 16 hex characters. */
  id: string;
  key: Buffer;
}

export interface KeyRing {
  /** What new objects are encrypted with; undefined: they are written as they are. */
  write: BackupKey | undefined;
  /** Every key an object may be read with, by id (the write key included). */
  read: Map<string, BackupKey>;
}

export function keyIdOf(key: Uint8Array): string {
  return createHash("sha256")
    .update("tenant-backup key id\0")
    .update(key)
    .digest()
    .subarray(0, KEY_ID_BYTES)
    .toString("hex");
}

/** The 32 bytes a base64 text stands for, or undefined when it is not exactly that. */
export function decodeKey(text: string): Buffer | undefined {
  const trimmed = text.trim();
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) return undefined;
  const bytes = Buffer.from(trimmed.replaceAll("-", "+").replaceAll("_", "/"), "base64");
  return bytes.byteLength === KEY_BYTES ? bytes : undefined;
}

export function backupKey(key: Buffer): BackupKey {
  return { id: keyIdOf(key), key };
}

export function keyRing(write: Buffer | undefined, older: Buffer[]): KeyRing {
  const writeKey = write && backupKey(write);
  const read = new Map<string, BackupKey>();
  for (const key of [...(writeKey ? [writeKey] : []), ...older.map(backupKey)]) read.set(key.id, key);
  return { write: writeKey, read };
}
