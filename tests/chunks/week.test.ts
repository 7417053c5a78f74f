/**
 * A week of daily backups of the demo's largest tenant with a small change each day: stored once, the
 * week takes less than twice one full backup; a day without change writes almost nothing; every day's
 * backup restores exactly, read through its chunks.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handleRestoreTenantData } from "../../functions/restore-tenant-data.ts";
import { runManualBackup } from "../../lib/backup/manual.ts";
import { tenantPrefix } from "../../lib/backup/paths.ts";
import { DEMO_GLOBAL_TABLES, DEMO_ORGANIZATIONS, DEMO_TABLES } from "../../scripts/demo/install.ts";
import { call } from "../support/call.ts";
import { deadlineIn, testClock } from "../support/clock.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { createTestServices, TEST_CRON_SECRET, type TestServices } from "../support/services.ts";
import { snapshot } from "../support/snapshot.ts";

let db: TestDatabase;
let services: TestServices;
const ALL = [...DEMO_TABLES, ...DEMO_GLOBAL_TABLES];
const acme = DEMO_ORGANIZATIONS[0]?.id as string;

beforeAll(async () => {
  db = await createTestDatabase("demo");
  services = await createTestServices(db.url, {}, { clock: testClock("2026-11-01T03:00:00Z") });
});

afterAll(async () => {
  await services?.cleanup();
  await db?.drop();
});

/** Day n's change: a few customers edited, scans recorded, notifications read, an old line item gone. */
async function changeDay(n: number) {
  const q = (sql: string) => db.owner.query(sql);
  await q(`update customers set name = name || ' (day ${n})' where id in (select id from customers
           where organization_id = '${acme}' order by id offset ${n * 7} limit 5)`);
  await q(`insert into bottle_scans (organization_id, bottle_id, scanned_at)
           select organization_id, id, timestamptz '2026-11-01' + interval '1 day' * ${n}
           from bottles where organization_id = '${acme}' order by id limit 20`);
  await q(`update notifications set read_at = timestamptz '2026-11-01' + interval '1 day' * ${n}
           where id in (select id from notifications where organization_id = '${acme}' and read_at is null
           order by id limit 10)`);
  await q(`delete from invoice_line_items where id in (select li.id from invoice_line_items li
           join rental_invoices ri on ri.id = li.invoice_id where ri.organization_id = '${acme}'
           order by li.id offset ${n * 3} limit 2)`);
}

async function storedBytes(): Promise<number> {
  return (await services.storage.list(tenantPrefix(acme))).reduce((n, o) => n + o.size, 0);
}

describe("a week of daily backups, stored as chunks", () => {
  it("stores less than twice one full backup, writes almost nothing on a day without change, and restores every day exactly", {
    timeout: 300_000,
  }, async () => {
    const days: {
      backupId: string;
      date: string;
      state: Record<string, string>;
      full: number;
      written: number;
    }[] = [];
    for (let n = 0; n < 7; n++) {
      services.clock.set(`2026-11-${String(n + 1).padStart(2, "0")}T03:00:00Z`);
      if (n > 0) await changeDay(n);
      const state = await snapshot(db.client, ALL);
      const result = await runManualBackup(services, acme, { deadline: deadlineIn(services) });
      if (result.status !== "completed") throw new Error("the backup did not complete");
      const { manifest } = result;
      if (manifest.format_version !== 3) throw new Error("not a chunked backup");
      days.push({
        backupId: result.backupId,
        date: result.date,
        state,
        full: manifest.total_bytes,
        written: manifest.written_bytes,
      });
    }
    const full = days[0]?.full as number;
    const stored = await storedBytes();
    // Printed for the docs: what the week takes beside one full copy.
    console.info(
      `week: one full backup ${full} B, stored ${stored} B (${(stored / full).toFixed(2)}×), written per day ${days.map((d) => d.written).join(", ")}`,
    );
    expect(days[0]?.written).toBe(full);
    expect(stored).toBeLessThan(2 * full);
    for (const day of days.slice(1)) expect(day.written).toBeLessThan(full / 5);

    // A day without change: nothing new but the summary.
    services.clock.set("2026-11-08T03:00:00Z");
    const before = await storedBytes();
    const quiet = await runManualBackup(services, acme, { deadline: deadlineIn(services) });
    if (quiet.status !== "completed" || quiet.manifest.format_version !== 3)
      throw new Error("no chunked backup");
    expect(quiet.manifest.written_bytes).toBe(0);
    const summary = (await services.storage.list(quiet.summaryPath))[0]?.size ?? 0;
    expect(await storedBytes()).toBe(before + summary);

    // Each day back, read through chunks shared with the other days.
    for (const day of [days[2], days[6], days[0]]) {
      if (!day) continue;
      const answer = await call(handleRestoreTenantData, services, "restore-tenant-data", {
        token: TEST_CRON_SECRET,
        body: { organization_id: acme, backup_date: day.date, backup_id: day.backupId, dry_run: false },
      });
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      expect(await snapshot(db.client, ALL)).toEqual(day.state);
    }
  });
});
