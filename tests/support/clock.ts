/**
 * A clock for services.now() that tests set. Each reading moves it on by `stepMs` (1 ms by default), so
 * that backup ids taken one after the other sort in the order they were taken, as on a real clock; time
 * otherwise stands still unless a test sets or advances it. A deadline is then reached only when a test
 * says time has passed, never because the machine was slow.
 */
import type { BackupStorage } from "../../lib/storage/port.ts";

export interface TestClock {
  now(): Date;
  set(at: string | Date): void;
  advance(ms: number): void;
}

export function testClock(start: string | Date = new Date(), stepMs = 1): TestClock {
  let current = new Date(start).getTime();
  return {
    now() {
      const at = new Date(current);
      current += stepMs;
      return at;
    },
    set(at) {
      current = new Date(at).getTime();
    },
    advance(ms) {
      current += ms;
    },
  };
}

/** The epoch-ms deadline `ms` after the clock's present: what a function's time budget gives. */
export function deadlineIn(clock: { now(): Date }, ms = 60_000): number {
  return clock.now().getTime() + ms;
}

/** Storage whose writes each take `ms` of the clock's time: a time budget then runs out after N parts. */
export function storageTakingTime(inner: BackupStorage, clock: TestClock, ms: number): BackupStorage {
  return {
    kind: inner.kind,
    get: (path) => inner.get(path),
    list: (prefix) => inner.list(prefix),
    remove: (paths) => inner.remove(paths),
    getStream: (path) => inner.getStream(path),
    unwrap: () => inner,
    async put(path, data, contentType) {
      await inner.put(path, data, contentType);
      clock.advance(ms);
    },
  };
}
