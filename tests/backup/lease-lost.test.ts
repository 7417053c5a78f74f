/**
 * Work whose tenant was taken over stops with 409: a backup whose lease renewal fails, a backup whose run
 * can no longer be saved, a restore whose lease is lost while it stages. The work leaves the run to
 * whoever took it over (neither its progress nor its status is overwritten) and a restore changes nothing.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { handleBackupTenantData } from "../../functions/backup-tenant-data.ts";
import { handleRestoreTenantData } from "../../functions/restore-tenant-data.ts";
import type { Services } from "../../lib/services.ts";
import type { BackupStorage } from "../../lib/storage/port.ts";
import { installSmallApp, ORG_A, ORG_B } from "../operations/small-app.ts";
import { call } from "../support/call.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { createTestServices, TEST_CRON_SECRET, type TestServices } from "../support/services.ts";

let db: TestDatabase;
let services: TestServices;

beforeAll(async () => {
  db = await createTestDatabase("migrated");
  await installSmallApp(db.owner);
  // One row per file: every table is written in several parts, so there is a renewal after the first.
  services = await createTestServices(db.url, {
    BACKUP_LAYOUT: "files",
    BACKUP_PAGE_ROWS: "5",
    BACKUP_MAX_FILE_BYTES: "200",
  });
});

beforeEach(async () => {
  await db.client.query("delete from tenant_backup_locks");
});

afterAll(async () => {
  await services?.cleanup();
  await db?.drop();
});

/** Services whose storage runs `act` once, at the first put (after it) or get (before it) that `when` matches. */
function withHook(hook: { when: (op: "put" | "get", path: string) => boolean; act: () => Promise<void> }) {
  let fired = false;
  const inner = services.storage;
  const fire = async (op: "put" | "get", path: string) => {
    if (!fired && hook.when(op, path)) {
      fired = true;
      await hook.act();
    }
  };
  const storage: BackupStorage = {
    kind: inner.kind,
    put: async (path, data, type) => {
      await inner.put(path, data, type);
      await fire("put", path);
    },
    get: async (path) => {
      await fire("get", path);
      return inner.get(path);
    },
    list: (prefix) => inner.list(prefix),
    remove: (paths) => inner.remove(paths),
    getStream: async (path) => {
      await fire("get", path);
      return inner.getStream(path);
    },
    unwrap: () => inner,
  };
  return { ...services, storage } as Services;
}

/** Another call takes the tenant over, as when a lease expires and the next operation takes it. */
async function stealLease(organizationId: string) {
  await db.client.query("update tenant_backup_locks set holder = 'another-call' where organization_id = $1", [
    organizationId,
  ]);
}

const backupOf = (s: Services, organizationId: string) =>
  call(handleBackupTenantData, s, "backup-tenant-data", {
    token: TEST_CRON_SECRET,
    body: { organization_id: organizationId },
  });

const runOf = async (organizationId: string) =>
  (
    await db.client.query(
      "select backup_id, status, progress, summary_path from tenant_backup_runs where organization_id = $1 order by started_at desc limit 1",
      [organizationId],
    )
  ).rows[0];

describe("a backup taken over", () => {
  it("stops with 409 when its lease renewal fails, and leaves the run and its progress to the new holder", async () => {
    const stolen = withHook({
      when: (op, path) => op === "put" && path.endsWith(".jsonl.zst"),
      act: () => stealLease(ORG_A),
    });
    const answer = await backupOf(stolen, ORG_A);
    expect(answer.status, JSON.stringify(answer.body)).toBe(409);
    expect(answer.body.error.message).toBe(`lost the lease on tenant ${ORG_A}; another operation took over`);
    const run = await runOf(ORG_A);
    // Still running for whoever holds the tenant now, and the first part's progress was not saved by us.
    expect(run.status).toBe("running");
    expect(run.progress).toEqual({});
    expect(run.summary_path).toBeNull();
    const holder = await db.client.query(
      "select holder from tenant_backup_locks where organization_id = $1",
      [ORG_A],
    );
    expect(holder.rows[0].holder).toBe("another-call");
  });

  it("stops with 409 when its progress cannot be saved, without overwriting how the run ended", async () => {
    const finished = withHook({
      when: (op, path) => op === "put" && path.endsWith(".jsonl.zst"),
      act: async () => {
        await db.client.query(
          "update tenant_backup_runs set status = 'completed', summary_path = 'elsewhere.json' where organization_id = $1 and status = 'running'",
          [ORG_B],
        );
      },
    });
    const answer = await backupOf(finished, ORG_B);
    expect(answer.status, JSON.stringify(answer.body)).toBe(409);
    expect(answer.body.error.message).toMatch(/is no longer running; another operation took over$/);
    const run = await runOf(ORG_B);
    expect(run.status).toBe("completed");
    expect(run.summary_path).toBe("elsewhere.json");
    // The lease is given back all the same.
    const locks = await db.client.query("select count(*)::int as n from tenant_backup_locks");
    expect(locks.rows[0].n).toBe(0);
  });
});

describe("a restore taken over", () => {
  it("stops with 409 when its lease is lost while staging, and changes nothing", async () => {
    const made = await backupOf(services, ORG_A);
    expect(made.status).toBe(200);
    await db.client.query("update notes set body = body || ' (edited)' where organization_id = $1", [ORG_A]);
    const notes = async () =>
      (await db.client.query("select id, body from notes where organization_id = $1 order by id", [ORG_A]))
        .rows;
    const before = await notes();

    // The backup's data files are read only once the lease is held (staging, before the undo point).
    const stolen = withHook({
      when: (op, path) =>
        op === "get" && path.includes(made.body.backup.backup_id) && path.endsWith(".jsonl.zst"),
      act: () => stealLease(ORG_A),
    });
    const answer = await call(handleRestoreTenantData, stolen, "restore-tenant-data", {
      token: TEST_CRON_SECRET,
      body: {
        organization_id: ORG_A,
        backup_date: made.body.backup.backup_date,
        backup_id: made.body.backup.backup_id,
        dry_run: false,
      },
    });
    expect(answer.status, JSON.stringify(answer.body)).toBe(409);
    expect(answer.body.error.message).toBe(`lost the lease on tenant ${ORG_A}; another operation took over`);
    expect(await notes()).toEqual(before);
  });
});
