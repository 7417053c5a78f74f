import { describe, expect, it } from "vitest";
import {
  type BackupStorage,
  backendWith,
  StorageError,
  type StorageErrorCode,
} from "../../lib/storage/port.ts";
import { type RetryInfo, withRetries } from "../../lib/storage/retrying.ts";
import { storageErrorOf } from "./contract.ts";

/** A backend whose every operation fails with the scripted errors, then succeeds. */
function scripted(failures: (StorageErrorCode | Error)[]) {
  const calls: string[] = [];
  const queue = [...failures];
  const step = async (op: string) => {
    calls.push(op);
    const next = queue.shift();
    if (next === undefined) return;
    throw next instanceof Error ? next : new StorageError(next, `scripted ${next}`, "k");
  };
  const storage: BackupStorage = {
    kind: "scripted",
    put: async () => step("put"),
    get: async () => {
      await step("get");
      return new Uint8Array([1, 2, 3]);
    },
    list: async () => {
      await step("list");
      return [{ path: "a", size: 1 }];
    },
    remove: async () => step("remove"),
    getStream: async () => {
      await step("getStream");
      return new Blob([new Uint8Array([1, 2, 3])]).stream();
    },
  };
  return { storage, calls };
}

function recorder() {
  const sleeps: number[] = [];
  const retries: RetryInfo[] = [];
  return {
    sleeps,
    retries,
    sleep: async (ms: number) => void sleeps.push(ms),
    onRetry: (info: RetryInfo) => retries.push(info),
  };
}

describe("withRetries", () => {
  it("keeps the kind and passes results through", async () => {
    const { storage } = scripted([]);
    const wrapped = withRetries(storage);
    expect(wrapped.kind).toBe("scripted");
    expect(Array.from(await wrapped.get("a"))).toEqual([1, 2, 3]);
    expect(await wrapped.list("")).toEqual([{ path: "a", size: 1 }]);
  });

  it("lets a backend's capability beyond the port be reached through it (unwrap)", () => {
    const { storage } = scripted([]);
    const signer = Object.assign(storage, { createSignedUrl: async () => "https://signed" });
    const canSign = (s: object): s is typeof signer => "createSignedUrl" in s;
    const wrapped = withRetries(withRetries(signer));
    expect(canSign(wrapped)).toBe(false);
    expect(backendWith(wrapped, canSign)).toBe(signer);
    expect(backendWith(withRetries(scripted([]).storage), canSign)).toBeUndefined();
  });

  it("retries transient failures of every operation until one succeeds", async () => {
    for (const op of ["put", "get", "list", "remove", "getStream"] as const) {
      const { storage, calls } = scripted(["transient", "transient"]);
      const r = recorder();
      const wrapped = withRetries(storage, { sleep: r.sleep, onRetry: r.onRetry });
      if (op === "put") await wrapped.put("k", new Uint8Array(1), "text/plain");
      if (op === "get") await wrapped.get("k");
      if (op === "list") await wrapped.list("p/");
      if (op === "remove") await wrapped.remove(["k"]);
      if (op === "getStream") await wrapped.getStream("k");
      expect(calls).toEqual([op, op, op]);
      expect(r.retries.map((i) => [i.op, i.attempt])).toEqual([
        [op, 1],
        [op, 2],
      ]);
    }
  });

  it.each(["not_found", "unauthorized", "too_large", "failed"] as const)("never retries %s", async (code) => {
    const { storage, calls } = scripted([code]);
    const r = recorder();
    const err = await storageErrorOf(withRetries(storage, { sleep: r.sleep }).get("k"));
    expect(err.code).toBe(code);
    expect(calls).toEqual(["get"]);
    expect(r.sleeps).toEqual([]);
  });

  it("does not retry errors that are not StorageErrors (bugs)", async () => {
    const bug = new TypeError("x is not a function");
    const { storage, calls } = scripted([bug]);
    await expect(withRetries(storage, { sleep: async () => {} }).get("k")).rejects.toBe(bug);
    expect(calls).toEqual(["get"]);
  });

  it("gives up after 4 attempts by default and rethrows the last error", async () => {
    const last = new StorageError("transient", "the fourth", "k");
    const { storage, calls } = scripted(["transient", "transient", "transient", last, "transient"]);
    const r = recorder();
    await expect(withRetries(storage, { sleep: r.sleep }).get("k")).rejects.toBe(last);
    expect(calls).toHaveLength(4);
    expect(r.sleeps).toHaveLength(3);
  });

  it("honours attempts", async () => {
    const { storage, calls } = scripted(["transient", "transient", "transient"]);
    await expect(withRetries(storage, { attempts: 1, sleep: async () => {} }).get("k")).rejects.toThrow(
      StorageError,
    );
    expect(calls).toHaveLength(1);
  });

  it("backs off exponentially from 200 ms with full jitter, capped at 5 s", async () => {
    const failures = Array.from({ length: 9 }, () => "transient" as const);
    const highest = recorder();
    await withRetries(scripted(failures).storage, {
      attempts: 10,
      sleep: highest.sleep,
      random: () => 0.9999,
    }).get("k");
    expect(highest.sleeps).toEqual([199, 399, 799, 1599, 3199, 4999, 4999, 4999, 4999]);

    const lowest = recorder();
    await withRetries(scripted(failures).storage, { attempts: 10, sleep: lowest.sleep, random: () => 0 }).get(
      "k",
    );
    expect(lowest.sleeps).toEqual(Array(9).fill(0));

    // The default jitter stays within the caps.
    const real = recorder();
    await withRetries(scripted(failures).storage, { attempts: 10, sleep: real.sleep }).get("k");
    const caps = [200, 400, 800, 1600, 3200, 5000, 5000, 5000, 5000];
    real.sleeps.forEach((ms, i) => {
      expect(ms).toBeGreaterThanOrEqual(0);
      expect(ms).toBeLessThan(caps[i] ?? 0);
    });
  });

  it("uses baseDelayMs and maxDelayMs", async () => {
    const r = recorder();
    const failures = ["transient", "transient", "transient"] as const;
    await withRetries(scripted([...failures]).storage, {
      baseDelayMs: 10,
      maxDelayMs: 25,
      sleep: r.sleep,
      random: () => 0.9999,
    }).get("k");
    expect(r.sleeps).toEqual([9, 19, 24]);
  });

  it("really waits when no sleep is given", async () => {
    const { storage } = scripted(["transient"]);
    const started = performance.now();
    await withRetries(storage, { baseDelayMs: 40, random: () => 0.9999 }).get("k");
    expect(performance.now() - started).toBeGreaterThanOrEqual(35);
  });
});
