/**
 * A small tenant's backup on the direct path writes its progress and its lease once, not once per part,
 * asks for its tables' selects in one call, reads them all on one connection that imports its moment once,
 * and lists its chunk folder once when every chunk it names is one it uploaded; a later backup that reuses
 * stored chunks checks them again before its summary names them.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backupTenant } from "../../lib/backup/tenant-backup.ts";
import { installSmallApp, ORG_A } from "../operations/small-app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { createTestServices, type TestServices } from "../support/services.ts";
import { type SentStatement, statementsSent } from "../support/statements.ts";
import { within } from "../support/within.ts";

let db: TestDatabase;
let services: TestServices;

beforeAll(async () => {
  db = await createTestDatabase("migrated");
  await installSmallApp(db.owner);
  services = await createTestServices(db.url, { BACKUP_LAYOUT: "chunks" });
});

afterAll(async () => {
  await services?.cleanup();
  await db?.drop();
});

/** Counts SQL function calls by name and storage requests by method while `work` runs. */
async function counted(work: () => Promise<unknown>): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  const add = (k: string) => {
    counts[k] = (counts[k] ?? 0) + 1;
  };
  const caller = services.db.caller;
  const call = caller.call;
  const list = services.storage.list;
  caller.call = <T>(name: string, args: Record<string, unknown>) => {
    add(name);
    return call.call(caller, name, args) as Promise<T>;
  };
  services.storage.list = (prefix) => {
    add("storage list");
    return list.call(services.storage, prefix);
  };
  try {
    await work();
  } finally {
    caller.call = call;
    services.storage.list = list;
  }
  return counts;
}

const backup = () =>
  backupTenant(services, {
    tenantId: ORG_A,
    tenantName: null,
    type: "manual",
    date: "2026-12-01",
    deadline: services.now().getTime() + 3_600_000,
  });

describe("a small tenant's round trips", () => {
  it("renews its lease and saves progress once for the whole tenant, in one call, and lists chunks once", async () => {
    let tables = 0;
    const counts = await counted(async () => {
      const result = await backup();
      expect(result.status).toBe("completed");
      tables = result.status === "completed" ? result.tables : 0;
    });
    expect(tables).toBeGreaterThan(1);
    // Before its summary, in one call: the lease renewed, and the progress saved only when that took.
    expect(counts.tenant_backup_run_save).toBe(1);
    expect(counts.tenant_backup_run_progress).toBeUndefined();
    expect(counts.tenant_backup_lock_renew).toBeUndefined();
    // Every table's select is asked for in one call.
    expect(counts.tenant_backup_export_columns_queries).toBe(1);
    expect(counts["storage list"]).toBe(1);
    // Nothing was copied, so there is no copy to drop.
    expect(counts.tenant_backup_snapshot_drop).toBeUndefined();
  });

  it("reads its tables on one connection: a statement each, and the moment imported once", async () => {
    let tables = 0;
    const sent = await statementsSent(async () => {
      const result = await backup();
      tables = result.status === "completed" ? result.tables : 0;
    });
    const copies = sent.filter((s) => s.text.startsWith("copy ("));
    expect(tables).toBeGreaterThan(1);
    // Small tables with no rows of the tenant are read too: at least a COPY per table.
    expect(copies.length).toBeGreaterThanOrEqual(tables);
    expect(new Set(copies.map((c) => c.client)).size).toBe(1);
    const reader = copies[0]?.client;
    // From the reader's first statement to its commit (the pool may lend its connection for a call before
    // and after: the lease's release, once the reader and the moment end side by side).
    const from = sent.findIndex((s) => s.client === reader && s.text.startsWith("begin"));
    const its = sent.slice(from).filter((s) => s.client === reader);
    const around = its
      .slice(0, its.findIndex((s) => s.text === "commit") + 1)
      .filter((s) => !s.text.startsWith("copy ("));
    // Its transaction begun with the moment imported and the settings set, in one statement; then commit.
    expect(around.map((s) => s.text.split(";")[0])).toEqual([
      "begin isolation level repeatable read read only",
      "commit",
    ]);
    expect(sent.filter((s) => s.text.includes("set transaction snapshot"))).toHaveLength(1);
  });

  it("lets its moment go once its tables are read, before it saves and records the run", async () => {
    const sent = await statementsSent(async () => {
      expect((await backup()).status).toBe("completed");
    });
    const moment = sent.find((s) => s.text.includes("pg_export_snapshot()"))?.client;
    expect(moment).toBeDefined();
    const lastCopy = sent.findLastIndex((s) => s.text.startsWith("copy ("));
    const firstAfterCopies = (pick: (s: SentStatement) => boolean) =>
      sent.findIndex((s, i) => i > lastCopy && pick(s));
    const letGo = firstAfterCopies((s) => s.client === moment && s.text === "rollback");
    const saved = firstAfterCopies((s) => s.text.includes("tenant_backup_run_save"));
    const recorded = firstAfterCopies((s) => s.text.includes("tenant_backup_run_finish"));
    expect(lastCopy).toBeGreaterThan(-1);
    expect(letGo).toBeGreaterThan(lastCopy);
    expect(saved).toBeGreaterThan(letGo);
    expect(recorded).toBeGreaterThan(saved);
  });

  it("asks for its chunk folder's listing beside the run's start, and reads its tables meanwhile", async () => {
    const startRun = services.db.startRun;
    const list = services.storage.list;
    const caller = services.db.caller;
    const copyText = caller.copyText as NonNullable<typeof caller.copyText>;
    let listed = false;
    let copied = false;
    let listedDuringStart: boolean | null = null;
    let copiedDuringListing: boolean | null = null;
    // Each waits a while: what is only asked for after the waiting call answers never comes meanwhile.
    caller.copyText = (...a) => {
      copied = true;
      return copyText.apply(caller, a);
    };
    services.storage.list = async (prefix) => {
      listed = true;
      // Only the first listing: the one a backup that reuses chunks asks for before its summary waits for none.
      if (copiedDuringListing === null) copiedDuringListing = await within(300, () => copied);
      return list.call(services.storage, prefix);
    };
    services.db.startRun = async (...a) => {
      listedDuringStart = await within(300, () => listed);
      return startRun.apply(services.db, a);
    };
    try {
      expect((await backup()).status).toBe("completed");
    } finally {
      services.db.startRun = startRun;
      services.storage.list = list;
      caller.copyText = copyText;
    }
    expect(listedDuringStart).toBe(true);
    expect(copiedDuringListing).toBe(true);
  });

  it("confirms the chunks it reuses from an earlier backup before naming them", async () => {
    const counts = await counted(async () => {
      expect((await backup()).status).toBe("completed");
    });
    expect(counts["storage list"]).toBe(2);
  });
});
