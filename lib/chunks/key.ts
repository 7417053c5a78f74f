/**
 * The per-installation key chunks are named with (HMAC-SHA-256 of their text's SHA-256; a tenant file's,
 * of its bytes). A keyed hash, so that the names in a listing of the bucket say nothing about the rows:
 * without the key nobody can test whether a guessed row set is stored. BACKUP_CHUNK_KEY (base64, at least
 * 32 bytes) when set; otherwise 32 random bytes kept in the backup storage itself at CHUNK_KEY_PATH,
 * created by the first backup that needs it.
 * The key only decides names: a manifest lists its chunks by full path and checks their text by SHA-256,
 * so a new key (set, changed, or two first backups racing to create it) costs deduplication until the
 * next backups, never a restore.
 */
import { createHmac, randomBytes } from "node:crypto";
import type { Services } from "../services.ts";
import { StorageError } from "../storage/port.ts";

/** Outside tenant-backups/: no tenant's listing, deletion or sweep ever reaches it. */
export const CHUNK_KEY_PATH = "tenant-backup-keys/chunk-hmac.key";

const cache = new WeakMap<Services, Promise<Buffer>>();

export function chunkKey(services: Services): Promise<Buffer> {
  const configured = services.config.backup.chunkKey;
  if (configured) return Promise.resolve(configured);
  let key = cache.get(services);
  if (!key) {
    key = storedKey(services);
    // A failed read is retried by the next backup, not remembered.
    key.catch(() => cache.delete(services));
    cache.set(services, key);
  }
  return key;
}

async function storedKey(services: Services): Promise<Buffer> {
  try {
    return Buffer.from(await services.storage.get(CHUNK_KEY_PATH));
  } catch (err) {
    if (!(err instanceof StorageError && err.code === "not_found")) throw err;
  }
  await services.storage.put(CHUNK_KEY_PATH, randomBytes(32), "application/octet-stream");
  // Read back: when two first backups raced, both go on with the one that was stored last.
  return Buffer.from(await services.storage.get(CHUNK_KEY_PATH));
}

/** The name of one of the tenant's uploaded files: the keyed hash of its bytes. */
export function fileName(key: Buffer, bytes: Uint8Array): string {
  return createHmac("sha256", key).update(bytes).digest("hex");
}

/**
 * The name of a chunk of rows: the keyed hash of the SHA-256 of its text (the digest the manifest records
 * and a reader checks), so that the text is hashed once, not once more for its name. No chunk's text is
 * this prefix and a digest (its NUL byte is in no row: lines escape it, COPY text never holds one), so
 * these names never meet those of chunks written by earlier versions, which were the keyed hash of the
 * text itself: those keep their names, and are read and kept as long as a summary names them.
 */
export function chunkName(key: Buffer, sha256: Buffer, encryptionKeyId?: string): string {
  const hmac = createHmac("sha256", key);
  // Encrypted chunks are named for the key they are encrypted with too: after a key change the next backup
  // writes its chunks anew under the new key instead of naming chunks only the old key reads, so that an
  // old key is needed only as long as backups written before the change are kept.
  if (encryptionKeyId) hmac.update(`encrypted:${encryptionKeyId}\0`);
  return hmac.update("rows-sha256\0").update(sha256).digest("hex");
}
