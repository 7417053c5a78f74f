/**
 * On the direct path a table's export starts while the last chunks of the table before it are still being
 * stored, not after them; and a call that fails before it reaches that table leaves no such export open.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backupTenant } from "../../lib/backup/tenant-backup.ts";
import { isChunkPath } from "../../lib/chunks/paths.ts";
import { APP_ENV, createAppDatabase } from "../restore/app.ts";
import { deadlineIn } from "../support/clock.ts";
import type { TestDatabase } from "../support/database.ts";
import { createTestServices, type TestServices } from "../support/services.ts";

let db: TestDatabase;
let services: TestServices;

beforeAll(async () => {
  db = await createAppDatabase();
  services = await createTestServices(db.url, { ...APP_ENV, BACKUP_CHUNK_TARGET_BYTES: "4096" });
});

afterAll(async () => {
  await services?.cleanup();
  await db?.drop();
});

const backup = (tenantId: string) =>
  backupTenant(services, {
    tenantId,
    tenantName: null,
    type: "manual",
    date: "2026-12-01",
    deadline: deadlineIn(services),
  });

/** Exports running, or done and waiting in their transaction to be read. */
const openExports = async (): Promise<number> =>
  (
    await db.client.query(
      "select count(*)::int as n from pg_stat_activity where query like 'copy (%' and state <> 'idle'",
    )
  ).rows[0].n;

/** Runs `work` with each table export's start and each chunk upload's end recorded, in order. */
async function watched<T>(
  work: () => Promise<T>,
  onPut: (path: string, data: Uint8Array, exports: string[]) => Promise<void> | void = () => {},
): Promise<{ result: T; events: string[] }> {
  const caller = services.db.caller;
  const copyText = caller.copyText;
  const put = services.storage.put;
  if (!copyText) throw new Error("not the direct path");
  const events: string[] = [];
  const exports: string[] = [];
  caller.copyText = (...args: Parameters<typeof copyText>) => {
    const table = /from public\.(\w+) t0/.exec(args[0])?.[1] ?? "?";
    exports.push(table);
    events.push(`export ${table}`);
    return copyText.apply(caller, args);
  };
  services.storage.put = async (path, data, type) => {
    if (isChunkPath(path)) {
      await onPut(path, data, exports);
      // Uploads take a while, as they do to Supabase Storage.
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await put.call(services.storage, path, data, type);
    if (isChunkPath(path)) events.push(`stored ${path}`);
  };
  try {
    return { result: await work(), events };
  } finally {
    caller.copyText = copyText;
    services.storage.put = put;
  }
}

describe("the next table's export", () => {
  it("starts while the table before it still has chunks on their way to storage", async () => {
    const { result, events } = await watched(() => backup("w1"));
    if (result.status !== "completed") throw new Error("the backup did not complete");
    // Tables stored in chunks of their own (small tables share one, stored after every table is read).
    const tables = result.manifest.tables.filter((t) => t.files.length > 0 && t.files.every((f) => !f.slice));
    let overlaps = 0;
    for (const [i, table] of tables.entries()) {
      const next = tables[i + 1];
      if (!next) continue;
      const started = events.indexOf(`export ${next.name}`);
      const lastStored = Math.max(...table.files.map((f) => events.indexOf(`stored ${f.path}`)));
      expect(started).toBeGreaterThan(-1);
      if (lastStored > started) overlaps += 1;
    }
    expect(overlaps).toBeGreaterThan(0);
  });

  it("opened ahead for a table the call never reaches (it failed first), is closed with the call", async () => {
    // Another tenant, none of whose chunks is stored yet, with more deals than a connection holds unread:
    // their export waits on its reader.
    await db.client.query(
      `insert into contacts (workspace_id, first_name, last_name, email)
       select 'w3', 'First ' || g, 'Last', 'c' || g || '@example.com' from generate_series(1, 100) g`,
    );
    await db.client.query(
      `insert into deals (workspace_id, contact_id, amount, stage)
       select 'w3', c.id, 1.5, repeat('s', 2000) from contacts c, generate_series(1, 20) where workspace_id = 'w3'`,
    );
    // The contacts' chunks on their way once the deals' export was opened ahead fail to store.
    const refuse = async (_path: string, _data: Uint8Array, exports: string[]) => {
      if (exports.includes("deals")) {
        await expect.poll(openExports, { timeout: 5_000 }).toBe(1);
        throw new Error("storage refused the chunk");
      }
    };
    await expect(watched(() => backup("w3"), refuse)).rejects.toThrow(/storage refused the chunk/);
    // No export is left open on a connection: not running, nor waiting in its transaction to be read.
    await expect.poll(openExports, { timeout: 5_000 }).toBe(0);
  });
});
