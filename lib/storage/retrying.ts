/**
 * Retries around a storage backend, so that backends stay single-attempt and the policy lives in one place.
 * Only "transient" failures are retried: a refused key, a missing object or an oversized file answers the
 * same way every time, and retrying them would only delay the error the caller needs to see.
 */
import { setTimeout as delay } from "node:timers/promises";
import { type BackupStorage, StorageError } from "./port.ts";

export interface RetryInfo {
  op: string;
  path?: string;
  /** The attempt that just failed, from 1. */
  attempt: number;
  error: Error;
}

export interface RetryOptions {
  /** Total attempts, the first included. Default 4. */
  attempts?: number;
  /** Cap of the first backoff; doubles after each failure. Default 200 ms. */
  baseDelayMs?: number;
  /** Upper bound of any one backoff. Default 5 s. */
  maxDelayMs?: number;
  /** Waits between attempts; tests pass a stub. */
  sleep?: (ms: number) => Promise<void>;
  /** Called before each wait, for logging. */
  onRetry?: (info: RetryInfo) => void;
  /** Source of jitter in [0, 1); tests pass a fixed one. Default Math.random. */
  random?: () => number;
}

export function withRetries(storage: BackupStorage, options: RetryOptions = {}): BackupStorage {
  const attempts = Math.max(1, Math.floor(options.attempts ?? 4));
  const baseDelayMs = options.baseDelayMs ?? 200;
  const maxDelayMs = options.maxDelayMs ?? 5000;
  const sleep = options.sleep ?? ((ms: number) => delay(ms));
  const random = options.random ?? Math.random;

  // Every port operation is safe to repeat (put replaces, remove ignores missing keys), so a call whose
  // answer was lost can be sent again as is.
  async function run<T>(op: string, path: string | undefined, call: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await call();
      } catch (error) {
        if (!(error instanceof StorageError) || error.code !== "transient" || attempt >= attempts)
          throw error;
        options.onRetry?.({ op, path, attempt, error });
        // Full jitter (a random wait up to the exponential cap) spreads out the many tenants of a daily
        // run that hit the same outage, instead of having them all retry in lockstep.
        const cap = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
        await sleep(Math.floor(random() * cap));
      }
    }
  }

  return {
    kind: storage.kind,
    put: (path, data, contentType) => run("put", path, () => storage.put(path, data, contentType)),
    get: (path) => run("get", path, () => storage.get(path)),
    list: (prefix) => run("list", prefix, () => storage.list(prefix)),
    remove: (paths) => run("remove", paths[0], () => storage.remove(paths)),
  };
}
