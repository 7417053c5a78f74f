/**
 * Triggers during a restore, and a restore killed half way.
 * - Default (replica mode): the app's triggers do not fire — restored rows are the backup's rows, not new
 *   events, so the audit trigger logs nothing.
 * - Fallback mode "triggers": ordinary statements, every trigger fires once per row actually changed.
 * - The database backend running the restore is terminated mid-transaction: nothing of it remains, the
 *   lease frees, and the next restore succeeds.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restoreTenant } from "../../lib/restore/restore-tenant.ts";
import { deadlineIn } from "../support/clock.ts";
import type { TestDatabase } from "../support/database.ts";
import { waitForFreeLease } from "../support/lease.ts";
import { createTestServices, type TestServices } from "../support/services.ts";
import { snapshot } from "../support/snapshot.ts";
import {
  APP_ENV,
  APP_TABLES,
  auditCounts,
  BACKUP_DATE,
  backup,
  createAppDatabase,
  restore,
  restoreLogs,
} from "./app.ts";

let db: TestDatabase;
let services: TestServices;
let original: Record<string, string>;

// The app at work: its own role changes its data and schema, as `postgres` does on Supabase.
const q = (sql: string) => db.owner.query(sql);
const everything = () => snapshot(db.client, [...APP_TABLES]);

beforeAll(async () => {
  db = await createAppDatabase();
  // A one-second lease, so that the kill test can see a dead holder's lease expire.
  services = await createTestServices(db.url, { ...APP_ENV, BACKUP_LOCK_TTL_SECONDS: "1" });
  original = await everything();
  await backup(services, "w1");
});

afterAll(async () => {
  await services?.cleanup();
  await db?.drop();
});

/** The app at work on w1 after the backup: 3 contacts go (with 6 deals and 3 notes), 3 change, 1 comes. */
async function changeW1(tag: string) {
  await q("delete from contacts where workspace_id = 'w1' and id in (1, 2, 3)");
  await q(`update contacts set phone = '${tag}' where id in (4, 5, 6)`);
  const contact = await q(`insert into contacts (workspace_id, first_name, last_name, email)
                           values ('w1', 'New', 'Comer', 'new-${tag}@example.com') returning id`);
  const deal = await q(
    `insert into deals (workspace_id, contact_id, amount) values ('w1', ${contact.rows[0].id}, 5) returning id`,
  );
  await q(`insert into deal_notes (deal_id, body) values (${deal.rows[0].id}, 'fresh')`);
}

describe("triggers during a restore", () => {
  it("do not fire by default (replica mode): the audit trigger logs nothing", async () => {
    await changeW1("first");
    const logged = await auditCounts(db.client);
    expect(logged).toEqual({
      "contacts DELETE": 3,
      "contacts INSERT": 1,
      "contacts UPDATE": 3,
      "deal_notes DELETE": 3,
      "deal_notes INSERT": 1,
      "deals DELETE": 6,
      "deals INSERT": 1,
    });

    const dry = await restore(services, { organization_id: "w1", backup_date: BACKUP_DATE, dry_run: true });
    expect(dry.status, JSON.stringify(dry.body)).toBe(200);
    const real = await restore(services, { organization_id: "w1", backup_date: BACKUP_DATE, dry_run: false });
    expect(real.status, JSON.stringify(real.body)).toBe(200);
    expect(real.body.summary.mode).toBe("replica");
    expect(real.body.tables.contacts).toMatchObject({ would_insert: 3, would_delete: 1, would_change: 3 });
    expect(await everything()).toEqual(original);
    expect(await auditCounts(db.client)).toEqual(logged);
  });

  it('fire once per changed row in mode "triggers", and the restore is just as exact', async () => {
    await changeW1("second");
    await q("truncate audit_events");

    const outcome = await restoreTenant(services, {
      tenantId: "w1",
      backupDate: BACKUP_DATE,
      dryRun: false,
      mode: "triggers",
      deadline: deadlineIn(services),
    });
    if (outcome.status !== "done") throw new Error(`restore: ${outcome.status}`);
    expect(outcome.report).toMatchObject({ success: true, mode: "triggers", error: null });
    expect(await everything()).toEqual(original);
    expect(outcome.report.tables.contacts).toMatchObject({
      would_insert: 3,
      would_delete: 1,
      would_change: 3,
    });
    expect(outcome.report.tables.deals).toMatchObject({ would_insert: 6, would_delete: 1, would_change: 0 });
    expect(outcome.report.tables.deal_notes).toMatchObject({
      would_insert: 3,
      would_delete: 1,
      would_change: 0,
    });
    // Deletes go children first, so the contact's cascade finds nothing left to delete: one row, one event.
    expect(await auditCounts(db.client)).toEqual({
      "contacts DELETE": 1,
      "contacts INSERT": 3,
      "contacts UPDATE": 3,
      "deal_notes DELETE": 1,
      "deal_notes INSERT": 3,
      "deals DELETE": 1,
      "deals INSERT": 6,
    });
  });
});

describe("a restore killed half way", () => {
  it("leaves the data as it was, frees the lease after its TTL, and a later restore succeeds", {
    timeout: 30_000,
  }, async () => {
    // Lose 12 contacts (18 deals, 9 notes), and make every deal the restore writes back take 150 ms.
    await q("delete from contacts where workspace_id = 'w1' and id <= 12");
    await q("update contacts set phone = 'killed' where id = 20");
    await q(`create function slow_row() returns trigger language plpgsql as
             $$ begin perform pg_sleep(0.15); return new; end $$`);
    await q("create trigger deals_slow before insert on deals for each row execute function slow_row()");
    const before = await everything();
    const audit = await auditCounts(db.client);
    const logsBefore = await restoreLogs(db.client);

    const running = restoreTenant(services, {
      tenantId: "w1",
      backupDate: BACKUP_DATE,
      dryRun: false,
      mode: "triggers",
      deadline: deadlineIn(services),
    });
    const failed = running.then(
      () => null,
      (err: unknown) => err,
    );
    // Half way: the contacts are back and updated inside the transaction, deals are being inserted.
    let pid: number | undefined;
    for (let i = 0; i < 200 && pid === undefined; i++) {
      const { rows } = await q(`select pid from pg_stat_activity
        where datname = current_database() and pid <> pg_backend_pid() and state = 'active'
          and query like '%tenant_backup_apply_live(%' and wait_event = 'PgSleep'`);
      pid = rows[0]?.pid;
      if (pid === undefined) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(pid, "the restore never reached the slow inserts").toBeDefined();
    await q(`select pg_terminate_backend(${pid})`);

    const error = await failed;
    expect(error).toMatchObject({ name: "DatabaseError", sqlState: "57P01" });
    expect(await everything()).toEqual(before);
    expect(await auditCounts(db.client)).toEqual(audit);
    expect(await restoreLogs(db.client)).toEqual([...logsBefore, [false, "failed"]]);
    const staged = await q("select count(*)::int as n from tenant_backup_stage");
    expect(staged.rows[0].n).toBe(0);

    // Whatever state the dead restore left its lease in, after the TTL (1 s here) another holder gets it.
    await waitForFreeLease(services, "w1");

    await q("drop trigger deals_slow on deals");
    const again = await restore(services, {
      organization_id: "w1",
      backup_date: BACKUP_DATE,
      dry_run: false,
    });
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(await everything()).toEqual(original);
  });
});
