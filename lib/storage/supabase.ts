/**
 * Backup files in a private Supabase Storage bucket, through supabase-js (which speaks the Storage REST
 * API: POST/GET /object/{bucket}/{key}, POST /object/list/{bucket}, DELETE /object/{bucket}).
 *
 * Supabase Storage has no recursive listing in the v1 API: list() returns one folder level, folders as
 * entries whose `id` is null, paged with limit/offset (supabase-js defaults to 100 per page). We page and
 * recurse here so that callers get the port's "every object, never truncated".
 */
import type { SupabaseClient } from "@supabase/supabase-js";
import { assertValidPrefix, comparePaths, splitPrefix } from "./keys.ts";
import {
  assertValidKey,
  type BackupStorage,
  StorageError,
  type StorageErrorCode,
  type StoredObject,
} from "./port.ts";

export interface SupabaseStorageOptions {
  /** Entries per list request. The server honours any limit; 1000 keeps requests few and responses small. */
  pageSize?: number;
  /** Folders listed at once while walking a prefix. */
  listConcurrency?: number;
}

/** The Storage API refuses more prefixes than this in one DELETE. */
const REMOVE_BATCH = 1000;

/**
 * The Dashboard creates this object to make an empty folder visible. It is not a backup file; listing it
 * would hand callers a key they never wrote.
 */
const FOLDER_PLACEHOLDER = ".emptyFolderPlaceholder";

/**
 * Characters Supabase Storage accepts in object names, minus '?' and '#': supabase-js puts keys into URLs
 * without encoding them, so those two would silently cut the key short.
 */
const SUPABASE_KEY = /^[\w/!\-.*'() &$@=;:+,]+$/;

interface ListEntry {
  name: string;
  id: string | null;
  updated_at?: string | null;
  metadata: { size?: number; mimetype?: string; cacheControl?: string; eTag?: string } | null;
}

export interface ListedObject extends StoredObject {
  contentType: string | null;
  cacheControl: string | null;
  /**
   * Changes whenever the object is written again: its update time and ETag together (an upload, even of
   * equal bytes, sets a new update time). Null when Storage answered neither.
   */
  version: string | null;
}

export class SupabaseStorage implements BackupStorage {
  readonly kind = "supabase";
  private readonly pageSize: number;
  private readonly listConcurrency: number;

  constructor(
    private readonly client: SupabaseClient,
    readonly bucket: string,
    options: SupabaseStorageOptions = {},
  ) {
    this.pageSize = options.pageSize ?? 1000;
    this.listConcurrency = options.listConcurrency ?? 8;
    if (!Number.isInteger(this.pageSize) || this.pageSize < 1)
      throw new Error("pageSize must be a positive integer");
  }

  async put(key: string, data: Uint8Array, contentType: string): Promise<void> {
    checkKey(key);
    // upsert: the port's put replaces; without it a second put of the same key answers 409 Duplicate.
    const { error } = await attempt("put", key, () =>
      this.files().upload(key, data, { upsert: true, contentType }),
    );
    if (error) throw toStorageError(error, "put", key);
  }

  async get(key: string): Promise<Uint8Array> {
    checkKey(key);
    return attempt("get", key, async () => {
      const { data, error } = await this.files().download(key);
      if (error) throw error;
      return new Uint8Array(await data.arrayBuffer());
    });
  }

  /** supabase-js answers a download as a Blob, so the object is in memory here all the same. */
  async getStream(key: string): Promise<ReadableStream<Uint8Array>> {
    checkKey(key);
    return attempt("get", key, async () => {
      const { data, error } = await this.files().download(key);
      if (error) throw error;
      return data.stream();
    });
  }

  async list(prefix: string): Promise<StoredObject[]> {
    return (await this.listWithMetadata(prefix)).map(({ path, size }) => ({ path, size }));
  }

  /** list(), with what Storage keeps of each object (content type, cache control) for tenant files. */
  async listWithMetadata(prefix: string): Promise<ListedObject[]> {
    assertValidPrefix(prefix);
    const { folder, namePrefix } = splitPrefix(prefix);
    const found = new Map<string, ListedObject>();
    // Breadth first, a level at a time, so that concurrency stays bounded however deep the tree is.
    let level: { folder: string; namePrefix: string }[] = [{ folder, namePrefix }];
    while (level.length > 0) {
      const next: { folder: string; namePrefix: string }[] = [];
      await forEachLimit(level, this.listConcurrency, async (item) => {
        for (const entry of await this.listFolder(item.folder)) {
          if (!entry.name.startsWith(item.namePrefix) || entry.name === FOLDER_PLACEHOLDER) continue;
          const key = `${item.folder}${entry.name}`;
          if (entry.id === null) next.push({ folder: `${key}/`, namePrefix: "" });
          else
            found.set(key, {
              path: key,
              size: entry.metadata?.size ?? 0,
              contentType: entry.metadata?.mimetype ?? null,
              cacheControl: entry.metadata?.cacheControl ?? null,
              version:
                entry.updated_at && entry.metadata?.eTag
                  ? `${entry.updated_at} ${entry.metadata.eTag}`
                  : null,
            });
        }
      });
      level = next;
    }
    return [...found.values()].sort(comparePaths);
  }

  /**
   * Stores `data` under `key` with the metadata Storage answers for it later: supabase-js sends the cache
   * control as `max-age=<cacheControl>`, so only that form can be given back (others get Storage's default).
   */
  async putWithMetadata(
    key: string,
    data: Uint8Array,
    metadata: { contentType: string; cacheControl: string | null },
  ): Promise<void> {
    checkKey(key);
    const maxAge = /^max-age=(\d+)$/.exec(metadata.cacheControl ?? "")?.[1];
    const { error } = await attempt("put", key, () =>
      this.files().upload(key, data, {
        upsert: true,
        contentType: metadata.contentType,
        ...(maxAge ? { cacheControl: maxAge } : {}),
      }),
    );
    if (error) throw toStorageError(error, "put", key);
  }

  async remove(keys: string[]): Promise<void> {
    for (const key of keys) checkKey(key);
    for (let i = 0; i < keys.length; i += REMOVE_BATCH) {
      const batch = keys.slice(i, i + REMOVE_BATCH);
      // Keys that do not exist are simply not in the answer: the API does not report them as errors.
      const { error } = await attempt("remove", batch[0], () => this.files().remove(batch));
      if (error) throw toStorageError(error, "remove", batch[0]);
    }
  }

  /** An absolute URL that downloads `key` without credentials until it expires. */
  async createSignedUrl(key: string, expiresInSeconds: number): Promise<string> {
    checkKey(key);
    if (!Number.isInteger(expiresInSeconds) || expiresInSeconds < 1) {
      throw new StorageError(
        "failed",
        `expiresInSeconds must be a positive integer, got ${expiresInSeconds}`,
        key,
      );
    }
    const { data, error } = await attempt("sign", key, () =>
      this.files().createSignedUrl(key, expiresInSeconds),
    );
    if (error) throw toStorageError(error, "sign", key);
    return data.signedUrl;
  }

  /**
   * A URL to which anyone holding it may PUT the object `key` once (the body is the file, sent as is),
   * without credentials, for the two hours Supabase Storage keeps such a URL valid.
   */
  async createSignedUploadUrl(key: string): Promise<string> {
    checkKey(key);
    const { data, error } = await attempt("sign", key, () => this.files().createSignedUploadUrl(key));
    if (error) throw toStorageError(error, "sign", key);
    return data.signedUrl;
  }

  private files() {
    return this.client.storage.from(this.bucket);
  }

  /**
   * One folder level, every page. Entries added or removed between pages shift the offsets, so a page can
   * repeat an entry (list() dedupes by key); a backup being written while it is listed may be missed, as
   * with any listing that is not a snapshot.
   *
   * Caveat of the v1 API: it matches the folder with `lower(name) LIKE lower(prefix) || '%'`, so '_' and
   * '%' in a folder name are wildcards and case is ignored. Our folders are tenant ids and dates; a tenant
   * id differing from another only by case or by '_' would be listed together with it.
   */
  private async listFolder(folder: string): Promise<ListEntry[]> {
    const entries: ListEntry[] = [];
    for (let offset = 0; ; offset += this.pageSize) {
      const { data, error } = await attempt("list", folder, () =>
        this.files().list(folder.replace(/\/$/, ""), {
          limit: this.pageSize,
          offset,
          sortBy: { column: "name", order: "asc" },
        }),
      );
      if (error) throw toStorageError(error, "list", folder);
      entries.push(...(data as ListEntry[]));
      if (data.length < this.pageSize) return entries;
    }
  }
}

function checkKey(key: string): void {
  assertValidKey(key);
  if (!SUPABASE_KEY.test(key)) {
    throw new StorageError(
      "failed",
      `storage key has characters Supabase Storage refuses: ${JSON.stringify(key)}`,
      key,
    );
  }
}

/** Runs one supabase-js call, turning anything it throws (network failures included) into a StorageError. */
async function attempt<T>(op: string, key: string | undefined, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw toStorageError(err, op, key);
  }
}

async function forEachLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * Maps what supabase-js reports to a port error code. The shapes, from @supabase/storage-js:
 * - StorageApiError: the server answered. `status` is the HTTP status; `statusCode` is the body's
 *   `statusCode` (or its `code`, or the HTTP status). Supabase Storage answers most errors with HTTP 400
 *   and the real status only in the body: a missing object is 400 + statusCode "404" (code NoSuchKey), a
 *   refused JWT 400 + "403" (AccessDenied), an object over the size limit 400 + "413" (EntityTooLarge),
 *   a read-only or overloaded database 400 + "503". The API gateway in front answers a wrong apikey with a
 *   real 401.
 * - StorageUnknownError: no usable answer; `originalError` is what fetch threw (TypeError for network
 *   failures, DOMException AbortError/TimeoutError for aborts).
 */
export function toStorageError(err: unknown, op: string, key?: string): StorageError {
  if (err instanceof StorageError) return err;
  const code = classify(err);
  const detail = describe(err);
  const where = key === undefined ? "" : ` ${JSON.stringify(key)}`;
  const mapped = new StorageError(code, `supabase storage ${op}${where}: ${detail}`, key);
  mapped.cause = err;
  return mapped;
}

function classify(err: unknown): StorageErrorCode {
  if (isNetworkFailure(err)) return "transient";
  const fields = asRecord(err);
  if (isNetworkFailure(fields.originalError)) return "transient";

  const message = typeof fields.message === "string" ? fields.message : "";
  const httpStatus = typeof fields.status === "number" ? fields.status : undefined;
  const bodyCode = typeof fields.statusCode === "string" ? fields.statusCode : undefined;
  const bodyStatus = bodyCode && /^\d{3}$/.test(bodyCode) ? Number(bodyCode) : undefined;
  const statuses = [bodyStatus, httpStatus].filter((s): s is number => s !== undefined);
  const has = (...wanted: number[]) => statuses.some((s) => wanted.includes(s));

  // A missing bucket is a deployment mistake, not a missing backup: reporting it as not_found would make a
  // restore answer "no such backup" instead of surfacing the misconfiguration.
  if (bodyCode === "NoSuchBucket" || /bucket not found/i.test(message)) return "failed";
  if (has(401, 403) || bodyCode === "AccessDenied" || bodyCode === "InvalidJWT") return "unauthorized";
  // Older Storage versions answer a bad JWT with a plain 400 and the verifier's message.
  if (/invalid api key|invalid signature|\bjwt\b/i.test(message) && has(400)) return "unauthorized";
  if (
    has(413) ||
    bodyCode === "EntityTooLarge" ||
    /payload too large|exceeded the maximum allowed size/i.test(message)
  ) {
    return "too_large";
  }
  if (has(404) || bodyCode === "NoSuchKey" || /not found/i.test(message)) return "not_found";
  if (statuses.some((s) => s === 429 || s >= 500) || bodyCode === "SlowDown") return "transient";
  return "failed";
}

function isNetworkFailure(err: unknown): boolean {
  if (err instanceof TypeError) return true; // fetch's "fetch failed" / "Failed to fetch"
  const name = asRecord(err).name;
  return name === "AbortError" || name === "TimeoutError";
}

function describe(err: unknown): string {
  const fields = asRecord(err);
  const message = err instanceof Error ? err.message : String(err);
  const parts = [message];
  if (typeof fields.status === "number") parts.push(`HTTP ${fields.status}`);
  if (typeof fields.statusCode === "string" && fields.statusCode !== String(fields.status)) {
    parts.push(`statusCode ${fields.statusCode}`);
  }
  return parts.join(", ");
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : {};
}
