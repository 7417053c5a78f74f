/**
 * The one suite every storage backend must pass (restic's backend test idea): the port's contract,
 * written once, so a backend cannot quietly differ from the others. Each test gets a fresh, empty store.
 */
import { createHash } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type BackupStorage, StorageError } from "../../lib/storage/port.ts";

export interface ContractSubject {
  storage: BackupStorage;
  cleanup?: () => Promise<void>;
}

/** Deterministic pseudo-random bytes (xorshift32), so a failure reproduces exactly. */
export function pseudoRandomBytes(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

export function text(value: string): Uint8Array {
  return new TextEncoder().encode(value);
}

function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Awaits a rejection and returns it as a StorageError, failing the test if it is anything else. */
export async function storageErrorOf(promise: Promise<unknown>): Promise<StorageError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(StorageError);
    return err as StorageError;
  }
  throw new Error("expected the call to fail with a StorageError, but it succeeded");
}

export function storageContract(name: string, make: () => Promise<ContractSubject>): void {
  describe(`storage contract: ${name}`, () => {
    let storage: BackupStorage;
    let cleanup: (() => Promise<void>) | undefined;

    beforeEach(async () => {
      ({ storage, cleanup } = await make());
    });

    afterEach(async () => {
      await cleanup?.();
    });

    async function putAll(keys: string[], concurrency = 16): Promise<void> {
      for (let i = 0; i < keys.length; i += concurrency) {
        await Promise.all(
          keys.slice(i, i + concurrency).map((key) => storage.put(key, text(key), "text/plain")),
        );
      }
    }

    it("has a kind", () => {
      expect(storage.kind).toMatch(/^[a-z][a-z0-9-]*$/);
    });

    it("round-trips binary data with every byte value, zero bytes included", async () => {
      const data = new Uint8Array(1024);
      for (let i = 0; i < data.length; i++) data[i] = i % 256;
      data.fill(0, 300, 340); // a run of NULs in the middle
      await storage.put("bin/all-bytes.bin", data, "application/octet-stream");
      const back = await storage.get("bin/all-bytes.bin");
      expect(back).toBeInstanceOf(Uint8Array);
      expect(Array.from(back)).toEqual(Array.from(data));
    });

    it("stores an empty object", async () => {
      await storage.put("bin/empty.bin", new Uint8Array(0), "application/octet-stream");
      expect((await storage.get("bin/empty.bin")).byteLength).toBe(0);
      expect(await storage.list("bin/")).toEqual([{ path: "bin/empty.bin", size: 0 }]);
    });

    it("round-trips a 3 MB payload exact to the byte", async () => {
      const data = pseudoRandomBytes(3 * 1024 * 1024 + 7, 42);
      await storage.put("big/table-00001.ndjson.gz", data, "application/gzip");
      const back = await storage.get("big/table-00001.ndjson.gz");
      expect(back.byteLength).toBe(data.byteLength);
      expect(sha256(back)).toBe(sha256(data));
      expect(await storage.list("big/")).toEqual([
        { path: "big/table-00001.ndjson.gz", size: data.byteLength },
      ]);
    });

    it("stores a subarray view without the bytes around it", async () => {
      const whole = pseudoRandomBytes(100, 7);
      const view = whole.subarray(10, 30);
      await storage.put("bin/view.bin", view, "application/octet-stream");
      expect(Array.from(await storage.get("bin/view.bin"))).toEqual(Array.from(view));
    });

    it("put replaces the previous object, also with a shorter one", async () => {
      await storage.put(
        "t/org-1/2024-05-01/summary.json",
        text("a much longer first version"),
        "application/json",
      );
      await storage.put("t/org-1/2024-05-01/summary.json", text("v2"), "application/json");
      expect(new TextDecoder().decode(await storage.get("t/org-1/2024-05-01/summary.json"))).toBe("v2");
      expect(await storage.list("t/")).toEqual([{ path: "t/org-1/2024-05-01/summary.json", size: 2 }]);
    });

    it("put with the same arguments twice is harmless", async () => {
      await storage.put("t/same.json", text("{}"), "application/json");
      await storage.put("t/same.json", text("{}"), "application/json");
      expect(new TextDecoder().decode(await storage.get("t/same.json"))).toBe("{}");
    });

    it("streams an object exact to the byte; getStream of a missing key throws not_found", async () => {
      const data = pseudoRandomBytes(1024 * 1024 + 3, 9);
      await storage.put("big/streamed.bin", data, "application/octet-stream");
      const back = new Uint8Array(
        await new Response(await storage.getStream("big/streamed.bin")).arrayBuffer(),
      );
      expect(back.byteLength).toBe(data.byteLength);
      expect(sha256(back)).toBe(sha256(data));
      expect((await storageErrorOf(storage.getStream("big/other.bin"))).code).toBe("not_found");
    });

    it("get of a missing key throws not_found", async () => {
      const err = await storageErrorOf(storage.get("nothing/here.json"));
      expect(err.code).toBe("not_found");
      await storage.put("some/thing.json", text("x"), "application/json");
      expect((await storageErrorOf(storage.get("some/other.json"))).code).toBe("not_found");
      // A folder is not an object.
      expect((await storageErrorOf(storage.get("some"))).code).toBe("not_found");
    });

    it("lists every object at any depth, sorted by path, with sizes", async () => {
      const keys = [
        "tenant-backups/org-b/2024-05-02/summary-2.json",
        "tenant-backups/org-a/2024-05-01/customers-0001.ndjson",
        "top.json",
        "tenant-backups/org-a/2024-05-01/summary-1.json",
        "tenant-backups/org-a/2024-05-01/customers-0000.ndjson",
        "tenant-backups/org-a/readme.txt",
        "tenant-backups/org-a/2024-05-01/deep/er/still.bin",
      ];
      await putAll(keys);
      const expected = [...keys].sort().map((path) => ({ path, size: text(path).byteLength }));
      expect(await storage.list("")).toEqual(expected);
    });

    it("lists by prefix, and a prefix is not a substring match", async () => {
      await putAll([
        "tenant-backups/org-1/2024-05-01/a.json",
        "tenant-backups/org-1/2024-05-02/b.json",
        "tenant-backups/org-10/2024-05-01/c.json",
        "tenant-backups/org-2/2024-05-01/d.json",
        "other/org-1/2024-05-01/e.json",
      ]);
      const paths = async (prefix: string) => (await storage.list(prefix)).map((o) => o.path);
      expect(await paths("tenant-backups/org-1/")).toEqual([
        "tenant-backups/org-1/2024-05-01/a.json",
        "tenant-backups/org-1/2024-05-02/b.json",
      ]);
      expect(await paths("tenant-backups/org-1/2024-05-02/")).toEqual([
        "tenant-backups/org-1/2024-05-02/b.json",
      ]);
      expect(await paths("tenant-backups/")).toHaveLength(4);
      // A partial last segment is a name prefix, as the port says: "key starts with prefix".
      expect(await paths("tenant-backups/org-1")).toEqual([
        "tenant-backups/org-1/2024-05-01/a.json",
        "tenant-backups/org-1/2024-05-02/b.json",
        "tenant-backups/org-10/2024-05-01/c.json",
      ]);
      expect(await paths("tenant-backups/org-1/2024-05-0")).toEqual([
        "tenant-backups/org-1/2024-05-01/a.json",
        "tenant-backups/org-1/2024-05-02/b.json",
      ]);
    });

    it("lists nothing for an unknown prefix", async () => {
      await storage.put("known/x.json", text("x"), "application/json");
      expect(await storage.list("unknown/")).toEqual([]);
      expect(await storage.list("known/x.json/")).toEqual([]);
      expect(await storage.list("known/y")).toEqual([]);
    });

    it("lists nothing in an empty store", async () => {
      expect(await storage.list("")).toEqual([]);
    });

    it("lists more than 250 objects completely, in one folder and across folders", async () => {
      const flat = Array.from({ length: 260 }, (_, i) => `many/flat/file-${String(i).padStart(4, "0")}.json`);
      const nested = Array.from({ length: 30 }, (_, i) => `many/nested-${String(i).padStart(2, "0")}/x.json`);
      await putAll([...flat, ...nested]);
      const listed = (await storage.list("many/")).map((o) => o.path);
      expect(listed).toEqual([...flat, ...nested].sort());
      expect(new Set(listed).size).toBe(290);
    });

    it("removes some objects and leaves the rest", async () => {
      await putAll(["r/a/1.json", "r/a/2.json", "r/b/3.json", "r/4.json"]);
      await storage.remove(["r/a/1.json", "r/b/3.json"]);
      expect((await storage.list("r/")).map((o) => o.path)).toEqual(["r/4.json", "r/a/2.json"]);
      expect((await storageErrorOf(storage.get("r/a/1.json"))).code).toBe("not_found");
      expect(new TextDecoder().decode(await storage.get("r/a/2.json"))).toBe("r/a/2.json");
      // Put again after remove: the folder must still be usable.
      await storage.put("r/b/3.json", text("again"), "application/json");
      expect(new TextDecoder().decode(await storage.get("r/b/3.json"))).toBe("again");
    });

    it("remove ignores missing keys and is idempotent", async () => {
      await putAll(["m/keep.json", "m/drop.json"]);
      await storage.remove([]);
      await storage.remove(["m/never-existed.json", "nowhere/at/all.json"]);
      await storage.remove(["m/drop.json", "m/missing.json"]);
      await storage.remove(["m/drop.json", "m/missing.json"]);
      expect((await storage.list("")).map((o) => o.path)).toEqual(["m/keep.json"]);
    });

    it("rejects invalid keys before touching anything", async () => {
      await storage.put("ok/1.json", text("x"), "application/json");
      for (const bad of ["../x", "/abs", "a//b", "a/../b", "./a", "a/", ""]) {
        expect((await storageErrorOf(storage.put(bad, text("x"), "text/plain"))).code, bad).toBe("failed");
        expect((await storageErrorOf(storage.get(bad))).code, bad).toBe("failed");
        expect((await storageErrorOf(storage.remove(["ok/1.json", bad]))).code, bad).toBe("failed");
      }
      for (const bad of ["../", "/abs/", "a//"]) {
        expect((await storageErrorOf(storage.list(bad))).code, bad).toBe("failed");
      }
      // The valid key in the rejected remove batches was not removed.
      expect((await storage.list("")).map((o) => o.path)).toEqual(["ok/1.json"]);
    });
  });
}
