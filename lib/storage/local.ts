/**
 * Backup files in a folder on the local disk (BACKUP_DIR): for `npm start`, tests and self-hosting. A key
 * maps to the file root/<key>; folders are created on demand and removed once they hold nothing.
 */
import { randomUUID } from "node:crypto";
import type { Dirent } from "node:fs";
import { lstat, mkdir, open, readdir, readFile, rename, rm, rmdir, unlink } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { assertValidPrefix, comparePaths, splitPrefix } from "./keys.ts";
import {
  assertValidKey,
  type BackupStorage,
  StorageError,
  type StorageErrorCode,
  type StoredObject,
} from "./port.ts";

/**
 * Names of in-flight put() files start with this. list() skips them and keys using it are refused, so an
 * interrupted put (crash, kill -9, full disk) never shows up as an object, not even a truncated one.
 */
export const LOCAL_TEMP_PREFIX = ".partial-";

// Backups hold every tenant's data: keep them private to the service's user.
const FILE_MODE = 0o600;
const DIR_MODE = 0o700;
/** Folders put() remembers having made, before it forgets them all and starts over. */
const KNOWN_FOLDERS = 1000;

export class LocalStorage implements BackupStorage {
  readonly kind = "local";
  readonly root: string;

  /** Folders made or written to lately (at most KNOWN_FOLDERS); one pruned since is made again on ENOENT. */
  private readonly folders = new Set<string>();

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  async put(key: string, data: Uint8Array, _contentType: string): Promise<void> {
    const file = this.fileOf(key);
    const dir = path.dirname(file);
    // A concurrent remove() may prune the folder between our mkdir and our write (it only sees an empty
    // folder); creating it again and retrying once more is enough to win that race.
    for (let attempt = 1; ; attempt++) {
      const temp = path.join(dir, `${LOCAL_TEMP_PREFIX}${randomUUID()}`);
      try {
        // A folder this storage made or wrote to is not made again: a backup writes hundreds of chunks
        // into one, and a mkdir each is a trip to the thread pool per object.
        if (attempt > 1 || !this.folders.has(dir)) await mkdir(dir, { recursive: true, mode: DIR_MODE });
        await writeDurably(temp, data);
        // rename() replaces the target in one step: readers see the old file or the new one, never a prefix.
        await rename(temp, file);
        if (this.folders.size >= KNOWN_FOLDERS) this.folders.clear();
        this.folders.add(dir);
        return;
      } catch (err) {
        this.folders.delete(dir);
        // When the folder could not be made, there is no temp file either (rm would fail with ENOTDIR).
        await rm(temp, { force: true }).catch(() => {});
        if (errnoOf(err) === "ENOENT" && attempt < 3) continue;
        throw fsError(err, "put", key);
      }
    }
  }

  async get(key: string): Promise<Uint8Array> {
    const file = this.fileOf(key);
    try {
      const buf = await readFile(file);
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    } catch (err) {
      throw readError(err, key);
    }
  }

  async getStream(key: string): Promise<ReadableStream<Uint8Array>> {
    const file = this.fileOf(key);
    try {
      // Opened here, so that a missing object fails the call rather than the first read.
      const handle = await open(file, "r");
      return Readable.toWeb(handle.createReadStream()) as ReadableStream<Uint8Array>;
    } catch (err) {
      throw readError(err, key);
    }
  }

  async list(prefix: string): Promise<StoredObject[]> {
    assertValidPrefix(prefix);
    const { folder, namePrefix } = splitPrefix(prefix);
    const found: StoredObject[] = [];
    await this.walk(folder, namePrefix, found);
    return found.sort(comparePaths);
  }

  async remove(keys: string[]): Promise<void> {
    // Validate everything first so that a bad key never leaves a half-done removal behind.
    const files = keys.map((key) => this.fileOf(key));
    for (const [i, file] of files.entries()) {
      try {
        await unlink(file);
      } catch (err) {
        const code = errnoOf(err);
        if (code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR" || code === "EPERM") {
          // EISDIR/EPERM: the key names a folder (Linux/macOS), which is not an object: nothing to delete.
          if (code !== "EPERM" || (await isDirectory(file))) continue;
        }
        throw fsError(err, "remove", keys[i]);
      }
      await this.pruneEmptyFolders(path.dirname(file));
    }
  }

  private fileOf(key: string): string {
    assertValidKey(key);
    const parts = key.split("/");
    if (parts.some((part) => part.startsWith(LOCAL_TEMP_PREFIX))) {
      throw new StorageError(
        "failed",
        `storage key uses the reserved prefix ${LOCAL_TEMP_PREFIX}: ${key}`,
        key,
      );
    }
    return path.join(this.root, ...parts);
  }

  private async walk(folder: string, namePrefix: string, found: StoredObject[]): Promise<void> {
    const dir = path.join(this.root, ...folder.split("/").filter(Boolean));
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      const code = errnoOf(err);
      // A prefix nobody wrote under (or that names a file) simply holds no objects.
      if (code === "ENOENT" || code === "ENOTDIR") return;
      throw fsError(err, "list", folder);
    }
    const wanted = entries.filter(
      (entry) => entry.name.startsWith(namePrefix) && !entry.name.startsWith(LOCAL_TEMP_PREFIX),
    );
    await Promise.all(
      wanted.map(async (entry) => {
        const key = `${folder}${entry.name}`;
        if (entry.isDirectory()) {
          await this.walk(`${key}/`, "", found);
        } else if (entry.isFile()) {
          try {
            found.push({ path: key, size: (await lstat(path.join(dir, entry.name))).size });
          } catch (err) {
            // Removed between readdir and lstat: it is gone, so it is not listed.
            if (errnoOf(err) !== "ENOENT") throw fsError(err, "list", key);
          }
        }
      }),
    );
  }

  /** Removes now-empty folders from `dir` up to (not including) the root, stopping at the first non-empty. */
  private async pruneEmptyFolders(dir: string): Promise<void> {
    let current = dir;
    while (current !== this.root && current.startsWith(this.root + path.sep)) {
      try {
        await rmdir(current);
      } catch {
        // Not empty (or already gone, or in use by a concurrent put): leave it and everything above it.
        return;
      }
      current = path.dirname(current);
    }
  }
}

async function writeDurably(file: string, data: Uint8Array): Promise<void> {
  // "wx": a fresh name per attempt, so never someone else's temp file.
  const handle = await open(file, "wx", FILE_MODE);
  try {
    await handle.writeFile(data);
    // Flush before the rename publishes the file, or a power cut could publish an empty one.
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function isDirectory(file: string): Promise<boolean> {
  try {
    return (await lstat(file)).isDirectory();
  } catch {
    return false;
  }
}

function errnoOf(err: unknown): string | undefined {
  return typeof err === "object" && err !== null && "code" in err && typeof err.code === "string"
    ? err.code
    : undefined;
}

const TRANSIENT_ERRNOS = new Set(["EMFILE", "ENFILE", "EAGAIN", "EBUSY", "ETIMEDOUT", "EINTR"]);
const FULL_ERRNOS = new Set(["ENOSPC", "EDQUOT"]);
// Read-only file system, no permission, or a file where a folder of the tree must be (ENOTDIR, EEXIST
// from mkdir): the folder cannot be written until an operator fixes it.
const UNAVAILABLE_ERRNOS = new Set(["EROFS", "EACCES", "EPERM", "ENOTDIR", "EEXIST"]);

/** The one place a file-system errno becomes a storage error class. */
export function storageCodeOfErrno(code: string | undefined): StorageErrorCode {
  if (code === undefined) return "failed";
  if (code === "EFBIG") return "too_large";
  if (FULL_ERRNOS.has(code)) return "full";
  if (UNAVAILABLE_ERRNOS.has(code)) return "unavailable";
  if (TRANSIENT_ERRNOS.has(code)) return "transient";
  return "failed";
}

function fsError(err: unknown, op: string, key: string | undefined): StorageError {
  const code = errnoOf(err);
  const message = `local storage ${op} ${JSON.stringify(key)}: ${err instanceof Error ? err.message : String(err)}`;
  const mapped = new StorageError(storageCodeOfErrno(code), message, key);
  mapped.cause = err;
  return mapped;
}

/** A missing file, a missing parent, or a key that names a folder: there is no object there. */
function readError(err: unknown, key: string): StorageError {
  const code = errnoOf(err);
  if (code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR") {
    return new StorageError("not_found", `no object at ${JSON.stringify(key)}`, key);
  }
  return fsError(err, "get", key);
}
