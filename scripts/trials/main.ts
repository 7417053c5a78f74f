/**
 * `npm run trials`: fault trials against the real product on an embedded PostgreSQL — processes killed
 * with SIGKILL, database connections terminated by the server, app writers committing while we work — each
 * at a random moment, each checked against its category's invariant (docs/fault-trials.md).
 *
 *   TRIALS_N      trials per category (default 10)
 *   TRIALS_ONLY   run only the categories whose name contains this text
 *
 * Prints a table of trials and violations per category and one line per violation; exits 1 if any
 * invariant broke, 0 if none did. Not part of `npm test`.
 */
import { CATEGORIES } from "./categories.ts";
import { startWorld } from "./world.ts";

const N = Number(process.env.TRIALS_N ?? 10);
/** A trial that runs longer than this counts as a violation, so that the run always ends. */
const TRIAL_TIMEOUT_MS = 120_000;

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the trial ran longer than ${ms / 1000} s`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

if (!Number.isInteger(N) || N < 1) {
  console.error(`TRIALS_N must be a positive whole number, got ${process.env.TRIALS_N}`);
  process.exit(2);
}

const world = await startWorld();
const results: { name: string; trials: number; violations: string[]; seconds: number }[] = [];
try {
  for (const category of CATEGORIES.filter((c) => c.name.includes(process.env.TRIALS_ONLY ?? ""))) {
    const started = Date.now();
    await category.prepare(world);
    const result = { name: category.name, trials: 0, violations: [] as string[], seconds: 0 };
    results.push(result);
    for (let i = 1; i <= N; i++) {
      let problems: string[];
      try {
        problems = await withTimeout(category.trial(world), TRIAL_TIMEOUT_MS);
      } catch (err) {
        problems = [`trial failed: ${(err as Error).message}`];
      }
      result.trials++;
      // One violation per trial that broke the invariant, however many ways it broke.
      if (problems.length) result.violations.push(`trial ${i}: ${problems.join("; ")}`);
      console.error(`${category.name} ${i}/${N}: ${problems.length ? "VIOLATION" : "ok"}`);
    }
    result.seconds = (Date.now() - started) / 1000;
  }
} finally {
  await world.stop();
}

const width = Math.max(...results.map((r) => r.name.length), 8);
console.log(`${"category".padEnd(width)}  trials  violations  seconds`);
for (const r of results) {
  console.log(
    `${r.name.padEnd(width)}  ${String(r.trials).padStart(6)}  ${String(r.violations.length).padStart(10)}  ${r.seconds.toFixed(0).padStart(7)}`,
  );
}
for (const r of results) for (const v of r.violations) console.log(`${r.name}, ${v}`);
process.exitCode = results.some((r) => r.violations.length) ? 1 : 0;
