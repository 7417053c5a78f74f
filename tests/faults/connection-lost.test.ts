/**
 * A database connection terminated by the server (pg_terminate_backend, as a restart or a pooler does)
 * while a backup streams a table: the call answers 503, the process keeps running, and the next call
 * completes the backup. When only the connection holding the backup's snapshot is cut, the connection
 * reading the tables has imported that moment already: it reads the rest there, and the call completes.
 * (A COPY that must import a moment whose connection is gone answers a transient error:
 * tests/db/held-reader.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handleBackupTenantData } from "../../functions/backup-tenant-data.ts";
import { DEMO_ORGANIZATIONS } from "../../scripts/demo/install.ts";
import { call } from "../support/call.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { createTestServices, TEST_CRON_SECRET, type TestServices } from "../support/services.ts";

let db: TestDatabase;
let services: TestServices;
const tenant = (DEMO_ORGANIZATIONS[0] as { id: string }).id;
/** Which of the product's connections the next put of bottles' first part terminates. */
let terminateOnPut: "all" | "held snapshot" | null = null;
let terminated = 0;

beforeAll(async () => {
  db = await createTestDatabase("demo");
  const ownerPid = (await db.owner.query("select pg_backend_pid() as pid")).rows[0].pid;
  // Per-backup files: the fault is set off by the put of one table's named file.
  const plain = await createTestServices(db.url, {
    BACKUP_LAYOUT: "files",
    BACKUP_PAGE_ROWS: "500",
    BACKUP_MAX_FILE_BYTES: "50000",
  });
  const inner = plain.storage;
  services = {
    ...plain,
    storage: {
      ...inner,
      async put(path, data, type) {
        if (terminateOnPut && /\/bottles\.0000\.jsonl\.zst$/.test(path)) {
          // Every connection of the product's role but the fixture's (the COPY stream's among them), or
          // only the one holding the backup's snapshot, idle in the transaction that exported it while
          // others read (a reader between two tables, or done with a table read ahead, is idle in a
          // transaction too: it is not the one cut here).
          const onlyHeld = terminateOnPut === "held snapshot";
          terminateOnPut = null;
          const { rows } = await db.client.query(
            `select pg_terminate_backend(pid) as ok from pg_stat_activity
              where datname = $1 and usename = $2 and pid <> $3
                and ($4::boolean is false
                  or (state = 'idle in transaction' and query like '%pg_export_snapshot()%'))`,
            [db.name, db.ownerRole, ownerPid, onlyHeld],
          );
          terminated = rows.length;
          // Deleted after the moment, from a table read after bottles: the backup still holds the row.
          if (onlyHeld) {
            await db.client.query(
              "delete from public.notifications where id = (select min(id) from public.notifications where organization_id = $1)",
              [tenant],
            );
          }
          // Give the terminated sockets time to close while nothing reads them.
          await new Promise((resolve) => setTimeout(resolve, 300));
        }
        await inner.put(path, data, type);
      },
    },
  };
});

afterAll(async () => {
  await services?.cleanup();
  await db?.drop();
});

const backup = () =>
  call(handleBackupTenantData, services, "backup-tenant-data", {
    token: TEST_CRON_SECRET,
    body: { organization_id: tenant },
  });

describe("a database connection terminated during a table read", () => {
  it("answers 503, the process lives, and the next call completes the backup (all)", async () => {
    terminateOnPut = "all";
    terminated = 0;
    const lost = await backup();
    expect(terminated).toBeGreaterThan(0);
    expect(lost.status).toBe(503);
    expect(lost.body.error.code).toBe("database_unavailable");
    expect(JSON.stringify(lost.body)).not.toMatch(/terminat|127\.0\.0\.1|password/i);

    const next = await backup();
    expect(next.status).toBe(200);
    expect(next.body.backup.complete).toBe(true);
  });

  it("completes the backup when only the snapshot's connection is cut: the reading one goes on as it was", async () => {
    const notifications = async () =>
      (
        await db.client.query(
          "select count(*)::int as n from public.notifications where organization_id = $1",
          [tenant],
        )
      ).rows[0].n as number;
    const before = await notifications();
    terminateOnPut = "held snapshot";
    terminated = 0;
    const cut = await backup();
    expect(terminated).toBe(1);
    expect(cut.status).toBe(200);
    expect(cut.body.backup.complete).toBe(true);
    // Every row of the table whose read was under way when the connection was cut.
    const { rows } = await db.client.query(
      "select count(*)::int as n from public.bottles where organization_id = $1",
      [tenant],
    );
    expect(rows[0].n).toBeGreaterThan(0);
    expect(cut.body.backup.tables.bottles).toBe(rows[0].n);
    // Read after the cut in the reading connection's transaction, begun before it: the row deleted since is
    // still there.
    expect(await notifications()).toBe(before - 1);
    expect(cut.body.backup.tables.notifications).toBe(before);
  });
});
