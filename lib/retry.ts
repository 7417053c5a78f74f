/**
 * The one retry loop, shared by the database and storage wrappers (lib/db/retrying.ts,
 * lib/storage/retrying.ts): a bounded number of attempts with full-jitter exponential backoff. Which
 * failures may be repeated is the caller's to say: only it knows whether a second attempt is safe.
 */
import { setTimeout as delay } from "node:timers/promises";

export interface RetryPolicy {
  /** Total attempts, the first included. Default 4. */
  attempts?: number;
  /** Cap of the first backoff; doubles after each failure. Default 200 ms. */
  baseDelayMs?: number;
  /** Upper bound of any one backoff. Default 5 s. */
  maxDelayMs?: number;
  /** Waits between attempts; tests pass a stub. */
  sleep?: (ms: number) => Promise<void>;
  /** Source of jitter in [0, 1); tests pass a fixed one. Default Math.random. */
  random?: () => number;
}

/**
 * Runs `call` until it succeeds, fails with an error `mayRepeat` refuses, or the attempts are spent (the
 * last error is thrown as is). `onRetry` hears of each failed attempt (from 1) before the wait.
 */
export type Retry = <T>(
  call: () => Promise<T>,
  mayRepeat: (error: unknown) => boolean,
  onRetry?: (attempt: number, error: unknown) => void,
) => Promise<T>;

export function retrier(policy: RetryPolicy = {}): Retry {
  const attempts = Math.max(1, Math.floor(policy.attempts ?? 4));
  const baseDelayMs = policy.baseDelayMs ?? 200;
  const maxDelayMs = policy.maxDelayMs ?? 5000;
  const sleep = policy.sleep ?? ((ms: number) => delay(ms));
  const random = policy.random ?? Math.random;
  return async (call, mayRepeat, onRetry) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await call();
      } catch (error) {
        if (attempt >= attempts || !mayRepeat(error)) throw error;
        onRetry?.(attempt, error);
        // Full jitter (a random wait up to the exponential cap) spreads out the many tenants of a daily
        // run that hit the same outage, instead of having them all retry in lockstep.
        const cap = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
        await sleep(Math.floor(random() * cap));
      }
    }
  };
}
