/**
 * Retries around a storage backend, so that backends stay single-attempt and the policy lives in one place.
 * Only "transient" failures are retried: a refused key, a missing object or an oversized file answers the
 * same way every time, and retrying them would only delay the error the caller needs to see.
 */
import { type RetryPolicy, retrier } from "../retry.ts";
import { type BackupStorage, StorageError } from "./port.ts";

export interface RetryInfo {
  op: string;
  path?: string;
  /** The attempt that just failed, from 1. */
  attempt: number;
  error: Error;
}

export interface RetryOptions extends RetryPolicy {
  /** Called before each wait, for logging. */
  onRetry?: (info: RetryInfo) => void;
}

export function withRetries(storage: BackupStorage, options: RetryOptions = {}): BackupStorage {
  const retry = retrier(options);
  // Every port operation is safe to repeat (put replaces, remove ignores missing keys), so a call whose
  // answer was lost can be sent again as is.
  const run = <T>(op: string, path: string | undefined, call: () => Promise<T>) =>
    retry(
      call,
      (error) => error instanceof StorageError && error.code === "transient",
      (attempt, error) => options.onRetry?.({ op, path, attempt, error: error as StorageError }),
    );

  return {
    kind: storage.kind,
    put: (path, data, contentType) => run("put", path, () => storage.put(path, data, contentType)),
    get: (path) => run("get", path, () => storage.get(path)),
    // Only opening is repeated: a stream that fails half way has already handed out bytes.
    getStream: (path) => run("getStream", path, () => storage.getStream(path)),
    list: (prefix) => run("list", prefix, () => storage.list(prefix)),
    remove: (paths) => run("remove", paths[0], () => storage.remove(paths)),
    unwrap: () => storage,
  };
}
