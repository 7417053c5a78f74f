/**
 * A backup is one moment of the tenant, whatever the number of calls. While a writer on its own connection
 * keeps adding contacts, then their deals, then the deals' notes, and deleting older contacts (each its
 * own transaction, as an app does), a backup taken over many calls (a small time budget, storage that takes time) holds every
 * child's parent, and restores cleanly into a database that never saw it. On both paths: a direct
 * connection, and the Supabase API (the fake PostgREST).
 */
import type { SetupServer } from "msw/node";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Manifest } from "../../lib/backup/manifest.ts";
import { backupTenant } from "../../lib/backup/tenant-backup.ts";
import { APP_ENV, BACKUP_DATE, createAppDatabase, restore } from "../restore/app.ts";
import { parseRows, readVerifiedFile } from "../support/backup-files.ts";
import { deadlineIn, storageTakingTime } from "../support/clock.ts";
import type { TestDatabase } from "../support/database.ts";
import { type FakeSupabase, startFakeSupabase } from "../support/fake-supabase.ts";
import { createTestServices, type TestServices } from "../support/services.ts";

const PROJECT_URL = "https://one-moment.supabase.co";

let db: TestDatabase;
let server: SetupServer;
let fake: FakeSupabase["fake"];
let serviceRoleKey: string;
const opened: TestServices[] = [];

beforeAll(async () => {
  db = await createAppDatabase();
  const api = await startFakeSupabase(db, PROJECT_URL);
  ({ fake, server } = api);
  serviceRoleKey = api.keys.serviceRole;
});

afterEach(async () => {
  for (const services of opened.splice(0)) await services.cleanup();
});

afterAll(async () => {
  server?.close();
  await fake?.close();
  await db?.drop();
});

/** Small files and pages, so that each table takes several parts and the backup many calls. */
const SMALL = { ...APP_ENV, BACKUP_MAX_FILE_BYTES: "400", BACKUP_PAGE_ROWS: "5" };

const PATHS = {
  direct: () => ({ ...SMALL }),
  "Supabase API": () => ({
    ...SMALL,
    DATABASE_URL: "",
    SUPABASE_URL: PROJECT_URL,
    SUPABASE_SERVICE_ROLE_KEY: serviceRoleKey,
    BACKUP_STORAGE: "local",
  }),
};

const PACE_MS = 20;

/**
 * The app at work until stopped: a contact, then its deal, then the deal's note, and an older contact
 * deleted (its deals and notes go with it), each committed alone.
 */
function startWriter(url: string) {
  const client = new pg.Client({ connectionString: url });
  const state = { stop: false, written: 0 };
  const done = (async () => {
    await client.connect();
    try {
      while (!state.stop) {
        const contact = await client.query(
          `insert into contacts (workspace_id, first_name, last_name, email)
           values ('w1', 'Live', 'Writer', 'live-' || gen_random_uuid() || '@example.com') returning id`,
        );
        const deal = await client.query(
          "insert into deals (workspace_id, contact_id, amount) values ('w1', $1, 1) returning id",
          [contact.rows[0].id],
        );
        await client.query("insert into deal_notes (deal_id, body) values ($1, 'live')", [deal.rows[0].id]);
        // And one of the older contacts goes, with its deals and their notes.
        await client.query(`delete from contacts where id = (
          select min(id) from contacts where workspace_id = 'w1' and first_name <> 'Live')`);
        state.written += 1;
        // An app's pace, not a flood: the backup must be able to catch up with the live tables.
        await new Promise((r) => setTimeout(r, PACE_MS));
      }
    } finally {
      await client.end();
    }
  })();
  return {
    state,
    /** Waits until the writer has committed `n` more families. */
    async wrote(n: number) {
      const target = state.written + n;
      while (state.written < target) await new Promise((r) => setTimeout(r, 5));
    },
    async stop() {
      state.stop = true;
      await done;
    },
  };
}

/** The backup's rows of `table`, as column name → text maps. */
async function rowsOf(services: TestServices, manifest: Manifest, table: string) {
  const entry = manifest.tables.find((t) => t.name === table);
  if (!entry) throw new Error(`${table} is not in the backup`);
  const names = entry.columns.map((c) => c.name);
  const rows: Record<string, string | null>[] = [];
  for (const file of entry.files) {
    for (const row of parseRows(await readVerifiedFile(services.storage, file))) {
      rows.push(Object.fromEntries(names.map((n, i) => [n, row[i] ?? null])));
    }
  }
  return rows;
}

describe.each(Object.keys(PATHS) as (keyof typeof PATHS)[])("a backup over many calls (%s)", (path) => {
  it("is one moment while the app writes: every child has its parent, and it restores into a new database", async () => {
    const base = await createTestServices(db.url, PATHS[path]());
    opened.push(base);
    // Each stored part takes 15 s of a 40 s budget: a call stores a few parts (and those on their way when
    // its time is up), then stops.
    const services = { ...base, storage: storageTakingTime(base.storage, base.clock, 15_000) };
    expect(services.db.kind).toBe(path === "direct" ? "postgres" : "supabase");

    const writer = startWriter(db.url);
    let calls = 0;
    let result: Awaited<ReturnType<typeof backupTenant>> | undefined;
    try {
      await writer.wrote(2);
      while (calls < 300 && result?.status !== "completed") {
        calls += 1;
        result = await backupTenant(services, {
          tenantId: "w1",
          tenantName: null,
          type: "manual",
          date: BACKUP_DATE,
          deadline: deadlineIn(services.clock, 40_000),
          resumeBackupId: result?.backupId,
        });
        // The app commits more parents and children between every two calls, as well as during them.
        await writer.wrote(1);
      }
    } finally {
      await writer.stop();
    }
    if (result?.status !== "completed") throw new Error(`the backup did not complete in ${calls} calls`);
    // Several calls: the first reads at its moment and leaves a copy of the rest, the later ones read it.
    expect(calls).toBeGreaterThanOrEqual(3);
    const manifest = result.manifest;

    // Every child in the backup has its parent in the backup.
    const contacts = new Set((await rowsOf(base, manifest, "contacts")).map((r) => r.id));
    const deals = await rowsOf(base, manifest, "deals");
    const notes = await rowsOf(base, manifest, "deal_notes");
    expect(deals.filter((d) => !contacts.has(d.contact_id)).map((d) => d.id)).toEqual([]);
    const dealIds = new Set(deals.map((d) => d.id));
    expect(notes.filter((n) => !dealIds.has(n.deal_id)).map((n) => n.id)).toEqual([]);
    // The writer's rows from before the backup started are in it, with their children.
    expect(deals.some((d) => contacts.has(d.contact_id) && Number(d.amount) === 1)).toBe(true);

    // The run's copy of the tenant is gone once the run completed.
    expect((await db.client.query("select count(*)::int as n from tenant_backup_snapshot")).rows[0].n).toBe(
      0,
    );

    // Restored into a database that never saw it: cleanly, every row.
    const fresh = await createAppDatabase(false);
    const elsewhere = await createTestServices(fresh.url, { ...APP_ENV, BACKUP_DIR: base.backupDir });
    try {
      const answer = await restore(elsewhere, {
        organization_id: "w1",
        backup_date: BACKUP_DATE,
        backup_id: result.backupId,
        dry_run: false,
      });
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      expect(answer.body.summary.total_records_restored).toBe(manifest.total_records);
      const counts = await fresh.client.query(
        `select (select count(*)::int from contacts) as contacts, (select count(*)::int from deals) as deals,
                (select count(*)::int from deal_notes) as deal_notes`,
      );
      expect(counts.rows[0]).toEqual({
        contacts: contacts.size,
        deals: deals.length,
        deal_notes: notes.length,
      });
    } finally {
      await elsewhere.cleanup();
      await fresh.drop();
    }
  });
});

describe("a backup whose copy of the tenant is lost (a database restart empties unlogged tables)", () => {
  it("takes the copy again and starts over, so that its parts are still of one moment", async () => {
    const base = await createTestServices(db.url, PATHS.direct());
    opened.push(base);
    const services = { ...base, storage: storageTakingTime(base.storage, base.clock, 15_000) };
    const request = {
      tenantId: "w2",
      tenantName: null,
      type: "manual" as const,
      date: BACKUP_DATE,
      deadline: 0,
    };
    const first = await backupTenant(services, { ...request, deadline: deadlineIn(services.clock, 40_000) });
    expect(first.status).toBe("incomplete");
    // What a crash leaves of an unlogged table: nothing.
    await db.client.query("truncate tenant_backup_snapshot");
    // Rows the first copy did not have: only a new copy holds them.
    await db.owner.query(`insert into contacts (workspace_id, first_name, last_name, email)
      values ('w2', 'After', 'Restart', 'after-restart@example.com')`);

    let result: Awaited<ReturnType<typeof backupTenant>> = first;
    for (let calls = 0; calls < 100 && result.status !== "completed"; calls++) {
      result = await backupTenant(services, {
        ...request,
        deadline: deadlineIn(services.clock, 40_000),
        resumeBackupId: first.backupId,
      });
    }
    if (result.status !== "completed") throw new Error("the backup did not complete");
    expect(base.logLines.some((l) => l.includes("copy of the tenant is gone; starting over"))).toBe(true);
    const contacts = await rowsOf(base, result.manifest, "contacts");
    const live = await db.client.query("select count(*)::int as n from contacts where workspace_id = 'w2'");
    expect(contacts).toHaveLength(live.rows[0].n);
    expect(contacts.some((c) => c.email === "after-restart@example.com")).toBe(true);
    // Each table's files were written from its first row again: no row twice.
    expect(new Set(contacts.map((c) => c.id)).size).toBe(contacts.length);
  });
});
