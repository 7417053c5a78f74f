/**
 * The storage port: where backup files and manifests live. Paths are relative, '/'-separated keys such
 * as `tenant-backups/<org>/<date>/summary-<id>.json`; they never start with '/' and never contain '..'.
 *
 * Every backend passes the same suite (tests/storage/contract.ts). Retries, limits and logging wrap a
 * backend (lib/storage/retrying.ts); a backend itself makes one attempt and reports what happened.
 */
export interface StoredObject {
  /** Full key of the object, as given to put(). */
  path: string;
  /** Size in bytes. */
  size: number;
}

export interface BackupStorage {
  /** A short name for logs and the API ("local", "supabase"). */
  readonly kind: string;

  /**
   * Stores `data` under `path`, replacing any object already there. Atomic for readers: a concurrent or
   * later get() sees either the previous object (or none) or all of `data`, never a prefix. Safe to
   * repeat with the same arguments.
   */
  put(path: string, data: Uint8Array, contentType: string): Promise<void>;

  /** The whole object. Throws StorageError with code "not_found" when there is none. */
  get(path: string): Promise<Uint8Array>;

  /**
   * Every object whose key starts with `prefix` (a folder prefix ending in '/', or ''), at any depth,
   * sorted by path. Never truncated: backends page through their listings.
   */
  list(prefix: string): Promise<StoredObject[]>;

  /** Deletes the objects; keys that do not exist are ignored. Safe to repeat. */
  remove(paths: string[]): Promise<void>;

  /**
   * The object as a stream, for reads too large to hold in memory. Throws StorageError "not_found" (when
   * the stream is opened) if there is none.
   */
  getStream(path: string): Promise<ReadableStream<Uint8Array>>;

  /**
   * A wrapper (retries, a test's fault injection) answers what it wraps, so that a capability beyond the
   * port that only the backend has (see backendWith) stays reachable. Backends have no unwrap.
   */
  unwrap?(): BackupStorage;
}

/**
 * The first of `storage` and what it wraps (following unwrap) that has the capability `has` checks for.
 * A call through it bypasses the wrappers: retry it yourself where that matters.
 */
export function backendWith<T extends object>(
  storage: BackupStorage,
  has: (candidate: object) => candidate is T,
): T | undefined {
  for (let layer: BackupStorage | undefined = storage; layer; layer = layer.unwrap?.()) {
    if (has(layer)) return layer;
  }
  return undefined;
}

export type StorageErrorCode =
  /** No object at that key. Never retried. */
  | "not_found"
  /** Credentials refused (401/403). Never retried. */
  | "unauthorized"
  /** The object is larger than the backend accepts (413). Never retried. */
  | "too_large"
  /** Outage, 5xx, timeout or network error: the same call may succeed later. */
  | "transient"
  /** Out of space or quota (ENOSPC, EDQUOT, 507): never retried, an operator must free space. */
  | "full"
  /** The storage cannot be written at all (read-only, no permission, a file where a folder must be). */
  | "unavailable"
  /** Anything else the backend refused. Never retried. */
  | "failed";

export class StorageError extends Error {
  constructor(
    readonly code: StorageErrorCode,
    message: string,
    readonly path?: string,
  ) {
    super(message);
    this.name = "StorageError";
  }
}

/** Rejects keys that could escape the storage root or confuse a backend. */
export function assertValidKey(path: string): void {
  if (
    path.length === 0 ||
    path.startsWith("/") ||
    path.includes("\\") ||
    path.includes("\0") ||
    path.split("/").some((part) => part === ".." || part === "." || part === "")
  ) {
    throw new StorageError("failed", `invalid storage key: ${JSON.stringify(path)}`, path);
  }
}
