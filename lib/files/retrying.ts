/**
 * Retries around the file stores, with the storage port's policy (lib/storage/retrying.ts): only
 * "transient" failures are tried again, and every operation is safe to repeat.
 */
import { type RetryPolicy, retrier } from "../retry.ts";
import { StorageError } from "../storage/port.ts";
import type { TenantFileStores } from "./port.ts";

export function withFileRetries(
  stores: TenantFileStores,
  options: RetryPolicy & { onRetry?: (info: { op: string; attempt: number; error: Error }) => void } = {},
): TenantFileStores {
  const retry = retrier(options);
  const run = <T>(op: string, call: () => Promise<T>) =>
    retry(
      call,
      (error) => error instanceof StorageError && error.code === "transient",
      (attempt, error) => options.onRetry?.({ op, attempt, error: error as Error }),
    );
  return {
    kind: stores.kind,
    bucket(name) {
      const store = stores.bucket(name);
      return {
        list: (prefix) => run("list", () => store.list(prefix)),
        get: (path) => run("get", () => store.get(path)),
        put: (path, data, metadata) => run("put", () => store.put(path, data, metadata)),
        remove: (paths) => run("remove", () => store.remove(paths)),
      };
    },
  };
}
