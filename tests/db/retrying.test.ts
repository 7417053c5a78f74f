import { describe, expect, it } from "vitest";
import { DatabaseError, type DatabaseErrorCode, type SqlFunctionCaller } from "../../lib/db/port.ts";
import { type DatabaseRetryInfo, RETRYABLE_FUNCTIONS, withDatabaseRetries } from "../../lib/db/retrying.ts";

/** A caller whose calls fail with the scripted errors, in order, then answer `{ ok: name }`. */
function scripted(failures: (DatabaseErrorCode | Error)[]) {
  const calls: string[] = [];
  const queue = [...failures];
  let closed = false;
  const caller: SqlFunctionCaller = {
    kind: "scripted",
    async call<T>(name: string): Promise<T> {
      calls.push(name);
      const next = queue.shift();
      if (next === undefined) return { ok: name } as T;
      throw next instanceof Error ? next : new DatabaseError(next, `scripted ${next}`);
    },
    async close() {
      closed = true;
    },
  };
  return { caller, calls, closed: () => closed };
}

function recorder() {
  const sleeps: number[] = [];
  const retries: DatabaseRetryInfo[] = [];
  return {
    sleeps,
    retries,
    sleep: async (ms: number) => void sleeps.push(ms),
    onRetry: (info: DatabaseRetryInfo) => retries.push(info),
  };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error("expected a rejection");
}

describe("withDatabaseRetries", () => {
  it("keeps the kind, passes results through and closes the inner caller", async () => {
    const inner = scripted([]);
    const wrapped = withDatabaseRetries(inner.caller);
    expect(wrapped.kind).toBe("scripted");
    expect(await wrapped.call("tenant_backup_history", { p_org: "1" })).toEqual({
      ok: "tenant_backup_history",
    });
    await wrapped.close();
    expect(inner.closed()).toBe(true);
  });

  it.each([
    "tenant_backup_export_page",
    "tenant_backup_prepare",
    "tenant_backup_lock_acquire",
    "tenant_backup_run_start",
    "tenant_backup_run_finish",
  ])("retries a transient failure of %s until it succeeds, with full-jitter backoff", async (fn) => {
    const { caller, calls } = scripted(["transient", "transient"]);
    const r = recorder();
    const wrapped = withDatabaseRetries(caller, { sleep: r.sleep, onRetry: r.onRetry, random: () => 0.5 });
    expect(await wrapped.call(fn, {})).toEqual({ ok: fn });
    expect(calls).toEqual([fn, fn, fn]);
    // Half of the exponential cap: 200 ms, then 400 ms.
    expect(r.sleeps).toEqual([100, 200]);
    expect(r.retries.map((i) => [i.fn, i.attempt, i.error.code])).toEqual([
      [fn, 1, "transient"],
      [fn, 2, "transient"],
    ]);
  });

  it.each(["failed", "not_found", "unauthorized"] as const)("never retries %s", async (code) => {
    const { caller, calls } = scripted([code]);
    const r = recorder();
    const err = await rejection(
      withDatabaseRetries(caller, { sleep: r.sleep }).call("tenant_backup_run_get", {}),
    );
    expect(err).toBeInstanceOf(DatabaseError);
    expect((err as DatabaseError).code).toBe(code);
    expect(calls).toEqual(["tenant_backup_run_get"]);
    expect(r.sleeps).toEqual([]);
  });

  it("does not retry errors that are not DatabaseErrors (bugs)", async () => {
    const bug = new TypeError("x is not a function");
    const { caller, calls } = scripted([bug]);
    const r = recorder();
    expect(
      await rejection(withDatabaseRetries(caller, { sleep: r.sleep }).call("tenant_backup_history", {})),
    ).toBe(bug);
    expect(calls).toHaveLength(1);
  });

  it("never retries tenant_backup_log, even when transient: a lost answer may hide an inserted row", async () => {
    const { caller, calls } = scripted(["transient"]);
    const r = recorder();
    const err = await rejection(
      withDatabaseRetries(caller, { sleep: r.sleep }).call("tenant_backup_log", {}),
    );
    expect((err as DatabaseError).code).toBe("transient");
    expect(calls).toEqual(["tenant_backup_log"]);
    expect(r.sleeps).toEqual([]);
    expect(RETRYABLE_FUNCTIONS.has("tenant_backup_log")).toBe(false);
  });

  it("never retries a function it does not know (a new one is not retried by accident)", async () => {
    const { caller, calls } = scripted(["transient"]);
    const err = await rejection(
      withDatabaseRetries(caller, { sleep: async () => {} }).call("tenant_backup_apply", {}),
    );
    expect((err as DatabaseError).code).toBe("transient");
    expect(calls).toEqual(["tenant_backup_apply"]);
  });

  it("gives up after the attempts, throwing the last error", async () => {
    const { caller, calls } = scripted(["transient", "transient", "transient", "transient", "transient"]);
    const r = recorder();
    const err = await rejection(
      withDatabaseRetries(caller, { sleep: r.sleep, onRetry: r.onRetry }).call(
        "tenant_backup_export_page",
        {},
      ),
    );
    expect((err as DatabaseError).code).toBe("transient");
    expect(calls).toHaveLength(4);
    expect(r.sleeps).toHaveLength(3);
    expect(r.retries.map((i) => i.attempt)).toEqual([1, 2, 3]);

    const two = scripted(["transient", "transient", "transient"]);
    await rejection(
      withDatabaseRetries(two.caller, { attempts: 2, sleep: r.sleep }).call("tenant_backup_history", {}),
    );
    expect(two.calls).toHaveLength(2);
  });

  it("keeps every wait under the exponential cap and the maximum", async () => {
    const { caller } = scripted(Array(9).fill("transient"));
    const r = recorder();
    await withDatabaseRetries(caller, {
      attempts: 10,
      baseDelayMs: 200,
      maxDelayMs: 1000,
      sleep: r.sleep,
      random: () => 0.999,
    }).call("tenant_backup_runs_on", {});
    expect(r.sleeps).toEqual([199, 399, 799, 999, 999, 999, 999, 999, 999]);
  });

  it("waits real time by default, briefly", async () => {
    const { caller, calls } = scripted(["transient"]);
    const started = Date.now();
    await withDatabaseRetries(caller, { baseDelayMs: 20, random: () => 0.99 }).call(
      "tenant_backup_run_get",
      {},
    );
    expect(calls).toHaveLength(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(15);
  });
});
