/**
 * The full cycle on the demo app: backup → change → dry run → restore. The dry run reports the changes
 * exactly and changes nothing; the restore gives the tenant back its backup to the byte, leaves every
 * other tenant as it was, and leaves an undo point that restores the changed state again.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handleListBackups } from "../../functions/list-backups.ts";
import { handleRestoreTenantData } from "../../functions/restore-tenant-data.ts";
import { runDailyBackup } from "../../lib/backup/daily.ts";
import { DEMO_GLOBAL_TABLES, DEMO_ORGANIZATIONS, DEMO_TABLES } from "../../scripts/demo/install.ts";
import { call } from "../support/call.ts";
import { deadlineIn, testClock } from "../support/clock.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { createTestServices, TEST_CRON_SECRET, type TestServices } from "../support/services.ts";
import { changedTables, snapshot } from "../support/snapshot.ts";

let db: TestDatabase;
let services: TestServices;
const ALL = [...DEMO_TABLES, ...DEMO_GLOBAL_TABLES];
const acme = DEMO_ORGANIZATIONS[0]?.id as string;
/** The test clock's day: backups and undo points are filed under it. */
const today = "2026-11-22";

const restore = (body: Record<string, unknown>) =>
  call(handleRestoreTenantData, services, "restore-tenant-data", { token: TEST_CRON_SECRET, body });

beforeAll(async () => {
  db = await createTestDatabase("demo");
  services = await createTestServices(db.url, {}, { clock: testClock(`${today}T12:00:00Z`) });
});

afterAll(async () => {
  await services?.cleanup();
  await db?.drop();
});

/** Changes Acme's data in every way a restore must undo; answers the expected dry-run counts. */
async function changeAcme() {
  const q = (sql: string) => db.owner.query(sql);
  const deletedLines = (
    await q(`delete from invoice_line_items where id in (select li.id from invoice_line_items li
             join rental_invoices ri on ri.id = li.invoice_id where ri.organization_id = '${acme}' order by li.id limit 25)`)
  ).rowCount;
  const updatedCustomers = (
    await q(`update customers set name = name || ' (edited)' where id in (select id from customers
             where organization_id = '${acme}' order by id limit 40)`)
  ).rowCount;
  const insertedScans = (
    await q(`insert into bottle_scans (organization_id, bottle_id, scanned_at)
             select organization_id, id, now() from bottles where organization_id = '${acme}' order by id limit 30`)
  ).rowCount;
  return { deletedLines, updatedCustomers, insertedScans };
}

describe("restore of the demo's largest tenant", () => {
  it("dry-runs truthfully, restores exactly, touches no other tenant, and can be undone", {
    timeout: 240_000,
  }, async () => {
    const backup = await runDailyBackup(services, { deadline: deadlineIn(services) });
    expect(backup.complete).toBe(true);
    const original = await snapshot(db.client, ALL);

    const expected = await changeAcme();
    const changed = await snapshot(db.client, ALL);
    expect(changedTables(original, changed).sort()).toEqual([
      "bottle_scans",
      "customers",
      "invoice_line_items",
    ]);

    const dry = await restore({ organization_id: acme, backup_date: today, dry_run: true });
    expect(dry.status, JSON.stringify(dry.body)).toBe(200);
    expect(dry.body.success, JSON.stringify(dry.body.summary)).toBe(true);
    expect(dry.body.summary).toMatchObject({
      organization_id: acme,
      dry_run: true,
      total_tables: 24,
      errors: [],
    });
    expect(dry.body.tables.invoice_line_items).toMatchObject({
      would_insert: expected.deletedLines,
      would_delete: 0,
      would_change: 0,
    });
    expect(dry.body.tables.customers).toMatchObject({
      would_insert: 0,
      would_delete: 0,
      would_change: expected.updatedCustomers,
    });
    expect(dry.body.tables.bottle_scans).toMatchObject({
      would_insert: 0,
      would_delete: expected.insertedScans,
      would_change: 0,
    });
    expect(dry.body.tables.bottles).toMatchObject({ would_insert: 0, would_delete: 0, would_change: 0 });
    expect(await snapshot(db.client, ALL)).toEqual(changed);

    const real = await restore({ organization_id: acme, backup_date: today, dry_run: false });
    expect(real.status, JSON.stringify(real.body)).toBe(200);
    expect(real.body.success).toBe(true);
    expect(real.body.summary.total_records_restored).toBe(
      backup.tenants[0] && "records" in backup.tenants[0] ? backup.tenants[0].records : -1,
    );
    expect(await snapshot(db.client, ALL)).toEqual(original);

    // Keys handed out after a restore do not collide with restored ones.
    await db.client.query(`insert into bottle_scans (organization_id, bottle_id, scanned_at)
      select organization_id, id, now() from bottles where organization_id = '${acme}' limit 1`);

    // The undo point is listed like any other backup, and restores the changed state.
    const undoId = real.body.summary.undo_backup_id as string;
    const listed = await call(handleListBackups, services, "list-backups", {
      method: "GET",
      token: TEST_CRON_SECRET,
      query: { organization_id: acme },
    });
    expect(listed.body.backups.find((b: { backup_id: string }) => b.backup_id === undoId)?.backup_type).toBe(
      "pre_restore",
    );
    const history = listed.body.history.filter((h: { backup_type: string }) => h.backup_type === "restore");
    expect(history.map((h: { dry_run: boolean; status: string }) => [h.dry_run, h.status])).toEqual([
      [false, "completed"],
      [true, "completed"],
    ]);

    const undo = await restore({
      organization_id: acme,
      backup_date: today,
      backup_id: undoId,
      dry_run: false,
    });
    expect(undo.status, JSON.stringify(undo.body)).toBe(200);
    expect(await snapshot(db.client, ALL)).toEqual(changed);
  });
});
