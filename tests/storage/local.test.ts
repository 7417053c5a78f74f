import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LOCAL_TEMP_PREFIX, LocalStorage } from "../../lib/storage/local.ts";
import { storageContract, storageErrorOf, text } from "./contract.ts";

async function tempRoot(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), "backup-storage-"));
}

storageContract("local", async () => {
  const root = await tempRoot();
  return { storage: new LocalStorage(root), cleanup: () => rm(root, { recursive: true, force: true }) };
});

/** Every file and folder under `dir`, relative, '/'-separated: what is really on disk. */
async function tree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.map((e) => e.split(path.sep).join("/")).sort();
}

describe("LocalStorage on disk", () => {
  let root: string;
  let storage: LocalStorage;

  beforeEach(async () => {
    root = await tempRoot();
    storage = new LocalStorage(root);
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("writes the object to root/<key>", async () => {
    await storage.put("tenant-backups/org/2024-05-01/summary.json", text("{}"), "application/json");
    expect(await tree(root)).toEqual([
      "tenant-backups",
      "tenant-backups/org",
      "tenant-backups/org/2024-05-01",
      "tenant-backups/org/2024-05-01/summary.json",
    ]);
    // Backups hold tenant data: not readable by other users of the machine.
    const mode = (await stat(path.join(root, "tenant-backups/org/2024-05-01/summary.json"))).mode & 0o777;
    expect(mode & 0o077).toBe(0);
  });

  it("never shows an interrupted put in list() or get()", async () => {
    await storage.put("t/org/2024-05-01/done.json", text("complete"), "application/json");
    // What a put killed between write and rename leaves behind: a temp file next to the target, and a
    // temp file alone in a folder of its own.
    const leftover = `${LOCAL_TEMP_PREFIX}0b0e7e3a-0000-4000-8000-000000000000`;
    await writeFile(path.join(root, "t/org/2024-05-01", leftover), "compl");
    await mkdir(path.join(root, "t/org/2024-05-02"), { recursive: true });
    await writeFile(path.join(root, "t/org/2024-05-02", leftover), "half a summa");

    expect(await storage.list("")).toEqual([{ path: "t/org/2024-05-01/done.json", size: 8 }]);
    expect(await storage.list("t/org/2024-05-02/")).toEqual([]);
    expect(await storage.list(`t/org/2024-05-01/${LOCAL_TEMP_PREFIX}`)).toEqual([]);
    // The temp name cannot be read or written as a key either.
    expect((await storageErrorOf(storage.get(`t/org/2024-05-02/${leftover}`))).code).toBe("failed");
    expect((await storageErrorOf(storage.put(`x/${leftover}`, text("x"), "text/plain"))).code).toBe("failed");
  });

  it("cleans up its temp file when a put fails", async () => {
    // A folder where the file should go makes the final rename fail after the temp file was written.
    await storage.put("clash/target/inner.json", text("x"), "application/json");
    const err = await storageErrorOf(storage.put("clash/target", text("y"), "application/json"));
    expect(err.code).toBe("failed");
    expect(err.path).toBe("clash/target");
    expect(await tree(path.join(root, "clash"))).toEqual(["target", "target/inner.json"]);
  });

  it("leaves one complete version when puts to the same key race, and readers never see a partial one", async () => {
    // Several MB so that a write takes many chunks: a non-atomic put would be caught half-written.
    const size = 4 * 1024 * 1024;
    const versions = Array.from({ length: 8 }, (_, i) => new Uint8Array(size).fill(i + 1));
    const key = "race/summary.json";
    let writing = true;
    const seen: string[] = [];
    const read = async () => {
      while (writing) {
        try {
          const data = await storage.get(key);
          // Complete means the full length, every byte from the same version.
          const first = data[0];
          seen.push(data.byteLength === size && data.every((b) => b === first) ? "complete" : "partial");
        } catch (err) {
          seen.push((err as { code?: string }).code === "not_found" ? "absent" : "error");
        }
      }
    };
    const readers = Array.from({ length: 4 }, read);
    // Several rounds of racing writers, so that the readers get many chances to hit a write in progress.
    for (let round = 0; round < 4; round++) {
      await Promise.all(versions.map((v) => storage.put(key, v, "application/json")));
    }
    writing = false;
    await Promise.all(readers);

    const final = await storage.get(key);
    expect(final.byteLength).toBe(size);
    const value = final[0] ?? 0;
    expect(value).toBeGreaterThanOrEqual(1);
    expect(value).toBeLessThanOrEqual(versions.length);
    expect(final.every((b) => b === value)).toBe(true);
    expect(seen).toContain("complete");
    expect(seen.filter((s) => s === "partial" || s === "error")).toEqual([]);
    // No temp files left behind by the losers.
    expect(await tree(path.join(root, "race"))).toEqual(["summary.json"]);
  });

  it("removes folders left empty, and keeps the root and non-empty folders", async () => {
    await storage.put("tenant-backups/org/2024-05-01/a.json", text("a"), "application/json");
    await storage.put("tenant-backups/org/2024-05-02/b.json", text("b"), "application/json");
    await storage.remove(["tenant-backups/org/2024-05-01/a.json"]);
    expect(await tree(root)).toEqual([
      "tenant-backups",
      "tenant-backups/org",
      "tenant-backups/org/2024-05-02",
      "tenant-backups/org/2024-05-02/b.json",
    ]);
    await storage.remove(["tenant-backups/org/2024-05-02/b.json"]);
    expect(await tree(root)).toEqual([]);
    expect((await stat(root)).isDirectory()).toBe(true);
  });

  it("makes a folder again when it was removed after a put into it, by remove() or from outside", async () => {
    // The second put into a folder does not make it (it was made for the first); a folder gone since is
    // made again.
    await storage.put("again/one/a.json", text("a"), "application/json");
    await storage.remove(["again/one/a.json"]);
    await storage.put("again/one/b.json", text("b"), "application/json");
    await rm(path.join(root, "again"), { recursive: true });
    await storage.put("again/one/c.json", text("c"), "application/json");
    expect((await storage.list("again/")).map((o) => o.path)).toEqual(["again/one/c.json"]);
  });

  it("does not delete a folder named by a key", async () => {
    await storage.put("f/inner/x.json", text("x"), "application/json");
    await storage.remove(["f/inner"]);
    expect((await storage.list("")).map((o) => o.path)).toEqual(["f/inner/x.json"]);
  });

  it("lists a root that does not exist yet as empty, and creates it on the first put", async () => {
    const fresh = new LocalStorage(path.join(root, "not", "yet"));
    expect(await fresh.list("")).toEqual([]);
    await fresh.put("a.json", text("a"), "application/json");
    expect(await fresh.list("")).toEqual([{ path: "a.json", size: 1 }]);
  });
});
