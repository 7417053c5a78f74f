/**
 * The app's Storage buckets, where tenants' uploaded files live: read by a backup, written back by a
 * restore. Keys follow the storage port's rules (relative, '/'-separated, no '..'); errors are
 * StorageErrors with the same codes.
 */
export interface FileMetadata {
  contentType: string;
  /** As Storage answers it, e.g. "max-age=3600"; null when it keeps none. */
  cacheControl: string | null;
}

export interface TenantFile extends FileMetadata {
  path: string;
  size: number;
  /**
   * Changes whenever the object is written (Supabase: update time and ETag); null when the store cannot
   * tell, and then the file is read by every backup to compare.
   */
  version: string | null;
}

export interface FileBucketStore {
  /** Every object under `prefix` (a folder ending in '/'), at any depth, with its metadata, by path. */
  list(prefix: string): Promise<TenantFile[]>;
  /** The whole object; StorageError "not_found" when there is none. */
  get(path: string): Promise<Uint8Array>;
  /** Stores `data` at `path` with `metadata`, replacing any object there. Safe to repeat. */
  put(path: string, data: Uint8Array, metadata: FileMetadata): Promise<void>;
  /** Deletes the objects through the Storage API; missing keys are ignored. Safe to repeat. */
  remove(paths: string[]): Promise<void>;
}

export interface TenantFileStores {
  /** "supabase" or "local". */
  readonly kind: string;
  bucket(name: string): FileBucketStore;
}

/** What a listing answers when Storage keeps no content type. */
export const DEFAULT_CONTENT_TYPE = "application/octet-stream";
