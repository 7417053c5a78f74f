/**
 * Polls `done` every 5 ms for up to `ms` milliseconds; answers whether it came true. For a test that
 * lets something happen meanwhile (or shows it never does) and asserts on what it finds.
 */
import { setTimeout as delay } from "node:timers/promises";

export async function within(ms: number, done: () => boolean): Promise<boolean> {
  const until = Date.now() + ms;
  while (!done() && Date.now() < until) await delay(5);
  return done();
}
