/**
 * The scheduled run split across calls made at the same time: each call claims due tenants as work items
 * (FOR UPDATE SKIP LOCKED) and backs up what it claimed, several at a time, so that the calls share the
 * tenants and back each one up exactly once — on a direct connection and through the Supabase API.
 */
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import type { SetupServer } from "msw/node";
import pg from "pg";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { handleDailyTenantBackup } from "../../functions/daily-tenant-backup.ts";
import type { WorkItem } from "../../lib/db/tenant-db.ts";
import { tenantBusy } from "../../lib/lease.ts";
import { call } from "../support/call.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { type FakeSupabase, startFakeSupabase } from "../support/fake-supabase.ts";
import { createTestServices, TEST_CRON_SECRET, type TestServices } from "../support/services.ts";
import { within } from "../support/within.ts";

const PROJECT_URL = "https://fan-out.supabase.co";
const TENANTS = 40;
const CALLS = 3;
const NOW = "2026-12-02T03:00:00.000Z";

let db: TestDatabase;
let server: SetupServer | undefined;
let fake: FakeSupabase["fake"] | undefined;
const opened: TestServices[] = [];

const orgId = (i: number) => `org-${String(i).padStart(3, "0")}`;

beforeEach(async () => {
  db = await createTestDatabase("migrated");
  await db.owner.query(`
    create table organizations (id text primary key, name text not null);
    create table notes (id serial primary key, organization_id text not null references organizations (id), body text);
    insert into organizations select 'org-' || lpad(i::text, 3, '0'), 'Tenant ' || i from generate_series(1, ${TENANTS}) i;
    insert into notes (organization_id, body) select o.id, 'note ' || g from organizations o, generate_series(1, 5) g;`);
});

afterEach(async () => {
  for (const s of opened.splice(0)) await s.cleanup();
  server?.close();
  server = undefined;
  await fake?.close();
  fake = undefined;
  await db.drop();
});

async function supabaseEnv(): Promise<Record<string, string>> {
  // The gate below holds every backup's request on one of PostgREST's connections until the gate opens
  // (or the statement times out). With the pool's default 4, a call whose backups reached the gate first held all of them,
  // and the other calls' first requests waited behind it past the wait for their claims (seen under
  // load; starting the other calls 3 s later does it every time). Room for every call's backups.
  const api = await startFakeSupabase(db, PROJECT_URL, { poolSize: CALLS * 4 + 2 });
  ({ fake, server } = api);
  return api.env;
}

/** `CALLS` calls' services over one database and one storage folder, each with its own connections. */
async function callers(env: Record<string, string>, calls = CALLS): Promise<TestServices[]> {
  const first = await createTestServices(db.url, { ...env, BACKUP_TENANT_CONCURRENCY: "4" });
  opened.push(first);
  const all = [first];
  for (let i = 1; i < calls; i++) {
    const next = await createTestServices(db.url, {
      ...env,
      BACKUP_TENANT_CONCURRENCY: "4",
      BACKUP_DIR: first.backupDir,
    });
    opened.push(next);
    all.push(next);
  }
  for (const s of all) s.clock.set(NOW);
  return all;
}

/** A call's tenants by status, with the first errors: enough to tell why it held no claim. */
function outcomesOf(body: { tenants?: { status: string; error?: string }[] }) {
  const counts: Record<string, number> = {};
  for (const t of body.tenants ?? []) counts[t.status] = (counts[t.status] ?? 0) + 1;
  const errors = [...new Set((body.tenants ?? []).flatMap((t) => (t.error ? [t.error] : [])))].slice(0, 3);
  return { counts, errors };
}

const PATHS: Record<string, () => Promise<Record<string, string>>> = {
  direct: async () => ({}),
  "Supabase API": supabaseEnv,
};

describe.each(Object.keys(PATHS))("calls made at the same time (%s)", (path) => {
  it("share the due tenants and back each one up exactly once", async () => {
    const services = await callers(await (PATHS[path] as () => Promise<Record<string, string>>)());
    // Backups wait on this lock until every call holds claims: unhindered, one call can back up every
    // tenant before another has claimed its first, and the calls would share nothing to check.
    const gate = new pg.Client({ connectionString: db.adminUrl });
    await gate.connect();
    await gate.query("begin; lock table public.notes in access exclusive mode");
    const running = Promise.all(
      services.map((s) =>
        call(handleDailyTenantBackup, s, "daily-tenant-backup", { token: TEST_CRON_SECRET }),
      ),
    );
    /** Why the calls did not all hold claims, when they did not. */
    let stuck: string | null = null;
    try {
      await vi.waitFor(
        async () => {
          const holders = await gate.query(
            "select count(distinct claimed_by)::int as n from tenant_backup_work_items where state = 'claimed'",
          );
          expect(holders.rows[0].n).toBe(CALLS);
        },
        // Generous: on a loaded machine a call can take many seconds to reach its first claim.
        { timeout: 60_000, interval: 50 },
      );
    } catch (err) {
      // What every session of the database waits on, and where the work items stand.
      const sessions = await gate.query(
        `select pid, usename, state, wait_event_type, wait_event, left(query, 160) as query
         from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`,
      );
      const items = await gate.query(
        "select state, claimed_by, count(*)::int as n from tenant_backup_work_items group by 1, 2",
      );
      stuck = `${(err as Error).message}\nwork items: ${JSON.stringify(items.rows)}\nsessions: ${JSON.stringify(sessions.rows)}`;
    } finally {
      await gate.query("commit");
      await gate.end();
    }
    if (stuck !== null) {
      // Then what each call answered once the gate opened (a call that gave up its items says why), so
      // that no call still writes when the test's folders are removed.
      const answers = await Promise.race([
        running.then((all) => all.map((a) => ({ status: a.status, tenants: outcomesOf(a.body) }))),
        new Promise((resolve) => setTimeout(() => resolve("no answer within 30 s"), 30_000).unref()),
      ]);
      throw new Error(`${stuck}\nanswers: ${JSON.stringify(answers)}`);
    }
    const answers = await running;
    for (const a of answers) expect(a.body.tenants, JSON.stringify(a.body)).toBeDefined();
    const completedBy = answers.map((a) =>
      (a.body.tenants as { organization_id: string; status: string }[])
        .filter((t) => t.status === "completed")
        .map((t) => t.organization_id),
    );
    const completed = completedBy.flat();
    // Every tenant once, by exactly one call; every call did some of the work.
    expect(completed.sort()).toEqual(Array.from({ length: TENANTS }, (_, i) => orgId(i + 1)));
    expect(completedBy.filter((ids) => ids.length > 0)).toHaveLength(CALLS);

    const admin = new pg.Client({ connectionString: db.adminUrl });
    await admin.connect();
    try {
      const logged = await admin.query(
        "select organization_id, count(*)::int as n from backup_logs where backup_type = 'daily_tenant' group by 1",
      );
      expect(logged.rows).toHaveLength(TENANTS);
      expect(logged.rows.every((r) => r.n === 1)).toBe(true);
      const items = await admin.query(
        "select state, count(*)::int as n from tenant_backup_work_items group by 1",
      );
      expect(items.rows).toEqual([{ state: "done", n: TENANTS }]);
    } finally {
      await admin.end();
    }
    for (let i = 1; i <= TENANTS; i++) {
      const days = await readdir(join(services[0]?.backupDir as string, "tenant-backups", orgId(i)));
      const entries = await readdir(
        join(
          services[0]?.backupDir as string,
          "tenant-backups",
          orgId(i),
          days.find((d) => d !== "chunks") as string,
        ),
      );
      expect(entries.filter((name) => name.startsWith("summary-"))).toHaveLength(1);
    }

    // A later call in the same slot finds nothing to do.
    const again = await call(handleDailyTenantBackup, services[1] as TestServices, "daily-tenant-backup", {
      token: TEST_CRON_SECRET,
    });
    expect(again.status).toBe(200);
    expect(again.body.tenants.every((t: { status: string }) => t.status === "already_done")).toBe(true);
  }, 180_000);
});

describe("a tenant's end in the scheduled run", () => {
  it("releases the tenant's lease and ends its work item's claim side by side", async () => {
    const [services] = await callers({}, 1);
    const s = services as TestServices;
    const ending = new Set<string>();
    /** Per tenant: whether its item's end was sent while its lease's release was on its way. */
    const together: boolean[] = [];
    const finishWork = s.db.finishWork.bind(s.db);
    const releaseLock = s.db.releaseLock.bind(s.db);
    s.db.finishWork = (holder, item, state) => {
      ending.add(item.organization_id);
      return finishWork(holder, item, state);
    };
    const released = new Set<string>();
    s.db.releaseLock = async (tenantId, holder) => {
      // The backup's lease is the first released; retention takes and releases one after the backups.
      if (released.has(tenantId)) return releaseLock(tenantId, holder);
      released.add(tenantId);
      // Waits a while for the item's end: one sent only after this release answers never comes meanwhile.
      together.push(await within(300, () => ending.has(tenantId)));
      return releaseLock(tenantId, holder);
    };
    const answer = await call(handleDailyTenantBackup, s, "daily-tenant-backup", { token: TEST_CRON_SECRET });
    expect(answer.status).toBe(200);
    const statuses = (answer.body.tenants as { status: string }[]).map((t) => t.status);
    expect(statuses.filter((x) => x === "completed")).toHaveLength(TENANTS);
    expect(together).toHaveLength(TENANTS);
    expect(together.every(Boolean)).toBe(true);
    // Neither end was lost: no lease left, every item done.
    const left = await db.owner.query(
      `select (select count(*) from tenant_backup_locks)::int as leases,
              (select count(*) from tenant_backup_work_items where state <> 'done')::int as open_items`,
    );
    expect(left.rows[0]).toEqual({ leases: 0, open_items: 0 });
  }, 60_000);
});

describe("a tenant's start in the scheduled run", () => {
  it("takes the tenant's lease and reads its schedule in one call", async () => {
    const [services] = await callers({}, 1);
    const s = services as TestServices;
    const calls: Record<string, number> = {};
    const caller = s.db.caller;
    const inner = caller.call.bind(caller);
    caller.call = <T>(name: string, args: Record<string, unknown>) => {
      calls[name] = (calls[name] ?? 0) + 1;
      return inner<T>(name, args);
    };
    const answer = await call(handleDailyTenantBackup, s, "daily-tenant-backup", { token: TEST_CRON_SECRET });
    expect(answer.status).toBe(200);
    const statuses = (answer.body.tenants as { status: string }[]).map((t) => t.status);
    expect(statuses.filter((x) => x === "completed")).toHaveLength(TENANTS);
    expect(calls.tenant_backup_lock_acquire_scheduled).toBe(TENANTS);
    expect(calls.tenant_backup_schedule_get).toBeUndefined();
  }, 60_000);

  it("answers busy for a tenant another operation holds, naming the operation and never its holder", async () => {
    const [services] = await callers({}, 1);
    const s = services as TestServices;
    const held = orgId(3);
    await db.owner.query(
      `insert into tenant_backup_locks (organization_id, operation, holder, expires_at)
       values ($1, 'restore', 'another-operation-holder', now() + interval '1 hour')`,
      [held],
    );
    const answer = await call(handleDailyTenantBackup, s, "daily-tenant-backup", { token: TEST_CRON_SECRET });
    // One tenant left to back up: the night is not complete yet.
    expect(answer.status).toBe(202);
    const tenant = (
      answer.body.tenants as { organization_id: string; status: string; error?: string }[]
    ).find((t) => t.organization_id === held);
    expect(tenant?.status).toBe("busy");
    expect(tenant?.error).toMatch(new RegExp(`^tenant ${held} is busy: restore running until `));
    expect(JSON.stringify(answer.body)).not.toContain("another-operation-holder");
    // What the lock call answers carries the holder; the 409 made of it does not.
    const lock = { acquired: false, operation: "restore", holder: "h", expires_at: "2026-12-02T04:00:00Z" };
    expect(tenantBusy(held, lock).details).toEqual({ operation: "restore", expires_at: lock.expires_at });
  }, 60_000);

  it("leaves a tenant another call backed up after this one read the schedules", async () => {
    const [services] = await callers({}, 1);
    const s = services as TestServices;
    const other = orgId(7);
    // Between this call's reading of the schedules and its lease on the tenant, another call backs the
    // tenant up and records it (before releasing its lease).
    const claimWork = s.db.claimWork.bind(s.db);
    s.db.claimWork = async (holder, count, ttl) => {
      const items = await claimWork(holder, count, ttl);
      if (items.some((i) => i.organization_id === other)) {
        await s.db.scheduleRan(other, s.now(), "backed-up-by-another-call", null);
      }
      return items;
    };
    const answer = await call(handleDailyTenantBackup, s, "daily-tenant-backup", { token: TEST_CRON_SECRET });
    expect(answer.status).toBe(200);
    const byId = new Map(
      (answer.body.tenants as { organization_id: string; status: string }[]).map((t) => [
        t.organization_id,
        t,
      ]),
    );
    expect(byId.get(other)?.status).toBe("already_done");
    expect([...byId.values()].filter((t) => t.status === "completed")).toHaveLength(TENANTS - 1);
    const runs = await db.owner.query(
      "select count(*)::int as n from tenant_backup_runs where organization_id = $1",
      [other],
    );
    expect(runs.rows[0].n).toBe(0);
  }, 60_000);
});

describe("claiming work items", () => {
  it("skips an item another call is claiming at this moment, and never hands one item out twice", async () => {
    const [services] = await callers({});
    const s = services as TestServices;
    const slot = new Date(NOW).toISOString();
    await s.db.addWork(
      [1, 2, 3].map((i) => ({ organization_id: orgId(i), slot_start: slot })),
      new Date(0),
    );
    const other = new pg.Client({ connectionString: db.adminUrl });
    await other.connect();
    try {
      // Another call's claim, caught between its select and its update: the row is locked.
      await other.query("begin");
      await other.query("select 1 from tenant_backup_work_items where organization_id = $1 for update", [
        orgId(1),
      ]);
      const first = await s.db.claimWork("call-a", 10, 60);
      expect(first.map((i) => i.organization_id)).toEqual([orgId(2), orgId(3)]);
      await other.query("rollback");
      const second = await s.db.claimWork("call-b", 10, 60);
      expect(second.map((i) => i.organization_id)).toEqual([orgId(1)]);
      expect(await s.db.claimWork("call-c", 10, 60)).toEqual([]);
      // Given back by its holder only; then any call may claim it.
      expect(await s.db.finishWork("call-b", first[0] as never, "due")).toBe(false);
      expect(await s.db.finishWork("call-a", first[0] as never, "due")).toBe(true);
      expect((await s.db.claimWork("call-c", 10, 60)).map((i) => i.organization_id)).toEqual([orgId(2)]);
    } finally {
      await other.end();
    }
  });

  it("claims due items while another call is adding the same items, and leaves an item to retry to the add", async () => {
    const [services] = await callers({});
    const s = services as TestServices;
    const slot = new Date(NOW).toISOString();
    const items = [1, 2, 3, 4].map((i) => ({ organization_id: orgId(i), slot_start: slot }));
    await s.db.addWork(items, new Date(0));
    // Item 1 is claimed; 2 and 3 were given back; 4 failed: it waits for the next add to be due again.
    const held = await s.db.claimWork("call-a", 4, 60);
    expect(held.map((i) => i.organization_id)).toEqual([1, 2, 3, 4].map(orgId));
    const [, second, third, fourth] = held as WorkItem[];
    for (const item of [second, third])
      expect(await s.db.finishWork("call-a", item as WorkItem, "due")).toBe(true);
    expect(await s.db.finishWork("call-a", fourth as WorkItem, "retry")).toBe(true);
    const other = new pg.Client({ connectionString: db.adminUrl });
    await other.connect();
    try {
      // Another call's add of the same items, not yet committed.
      await other.query("begin");
      await other.query("select public.tenant_backup_work_add($1::jsonb, $2)", [
        JSON.stringify(items),
        new Date(0).toISOString(),
      ]);
      // The items it found due stay claimable meanwhile; the one it makes due again is its own until it
      // commits.
      const claimed = await s.db.claimWork("call-b", 10, 60);
      expect(claimed.map((i) => i.organization_id)).toEqual([orgId(2), orgId(3)]);
      await other.query("commit");
      expect((await s.db.claimWork("call-b", 10, 60)).map((i) => i.organization_id)).toEqual([orgId(4)]);
    } finally {
      await other.end();
    }
  });
});
