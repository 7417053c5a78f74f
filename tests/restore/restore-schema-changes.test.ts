/**
 * The schema moved on since the backup. A column added since takes its default in the rows a restore
 * writes back; one added NOT NULL without a default makes the restore fail (422) with nothing changed; a
 * column dropped since is a warning in the dry run and a refusal (422) in a real restore unless
 * allow_dropped_columns is given.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestDatabase } from "../support/database.ts";
import { createTestServices, type TestServices } from "../support/services.ts";
import { snapshot } from "../support/snapshot.ts";
import { APP_ENV, APP_TABLES, BACKUP_DATE, backup, createAppDatabase, restore, restoreLogs } from "./app.ts";

let db: TestDatabase;
let services: TestServices;

// The app at work: its own role changes its data and schema, as `postgres` does on Supabase.
const q = (sql: string) => db.owner.query(sql);
/** The tables with the columns the backup knows (those of the fixture), whatever was added since. */
const CONTACT_COLUMNS = "id, workspace_id, first_name, last_name, email, phone, full_name";
const asBackedUp = (contactColumns = CONTACT_COLUMNS) =>
  snapshot(db.client, [
    "workspaces",
    `(select ${contactColumns} from contacts)`,
    "(select id, workspace_id, contact_id, amount, stage from deals)",
    "deal_notes",
  ]);
let original: Record<string, string>;
let originalWithoutPhone: Record<string, string>;
const body = (extra: Record<string, unknown> = {}) => ({
  organization_id: "w1",
  backup_date: BACKUP_DATE,
  ...extra,
});

beforeAll(async () => {
  db = await createAppDatabase();
  services = await createTestServices(db.url, APP_ENV);
  original = await asBackedUp();
  originalWithoutPhone = await asBackedUp("id, workspace_id, first_name, last_name, email, full_name");
});

afterAll(async () => {
  await services?.cleanup();
  await db?.drop();
});

describe("restore after schema changes", () => {
  it("gives a column added since the backup its default in the rows it writes back", async () => {
    await backup(services, "w1");
    await q("delete from contacts where id in (4, 8)");
    await q("update contacts set first_name = 'Changed' where id = 9");
    await q("alter table contacts add column score integer not null default 7");
    await q("alter table deals add column currency text");
    await q("update contacts set score = 99 where id = 9");
    await q("update contacts set score = 42 where id = 10");

    const dry = await restore(services, body({ dry_run: true }));
    expect(dry.status, JSON.stringify(dry.body)).toBe(200);
    expect(dry.body.success).toBe(true);
    expect(dry.body.summary.warnings).toEqual(
      expect.arrayContaining([
        "the schema changed since this backup was made; see the column notes",
        "contacts.score: added since the backup; restored rows take its default",
        "deals.currency: added since the backup; restored rows take its default",
      ]),
    );

    const real = await restore(services, body({ dry_run: false }));
    expect(real.status, JSON.stringify(real.body)).toBe(200);
    expect(await asBackedUp()).toEqual(original);
    const scores = await q("select id, score from contacts where id in (4, 8, 9) order by id");
    // Every row written back takes the default: those that were gone, and 9, which differed and is written
    // back whole. Rows equal to the backup's are not touched and keep what they hold.
    expect(scores.rows).toEqual([
      { id: "4", score: 7 },
      { id: "8", score: 7 },
      { id: "9", score: 7 },
    ]);
    const untouched = await q("select count(*)::int as n from contacts where id = 10 and score = 42");
    expect(untouched.rows[0].n).toBe(1);
    const currencies = await q("select count(*)::int as n from deals where currency is not null");
    expect(currencies.rows[0].n).toBe(0);
  });

  it("fails with 422 and changes nothing when a NOT NULL column without default was added since", async () => {
    await q("delete from contacts where id = 4");
    await q("alter table contacts add column tier text not null default 'gold'");
    await q("alter table contacts alter column tier drop default");
    const before = await snapshot(db.client, [...APP_TABLES]);
    const logs = await restoreLogs(db.client);

    const dry = await restore(services, body({ dry_run: true }));
    expect(dry.status).toBe(200);
    expect(dry.body.success).toBe(false);
    expect(dry.body.summary.warnings).toContain(
      "contacts.tier: added since the backup; restored rows take its default (it has none and is NOT NULL: the restore will fail)",
    );
    const expectedError = {
      sqlstate: "23502",
      message: 'null value in column "tier" of relation "contacts" violates not-null constraint',
      table: "contacts",
    };
    expect(dry.body.summary.errors).toEqual([expect.objectContaining(expectedError)]);

    const real = await restore(services, body({ dry_run: false }));
    expect(real.status, JSON.stringify(real.body)).toBe(422);
    expect(real.body.error.code).toBe("unprocessable");
    expect(real.body.error.details.error).toMatchObject(expectedError);
    expect(real.body.error.message).toBe(`restore failed, nothing was changed: ${expectedError.message}`);
    expect(await snapshot(db.client, [...APP_TABLES])).toEqual(before);
    expect(await restoreLogs(db.client)).toEqual([...logs, [true, "failed"], [false, "failed"]]);
    await q("alter table contacts drop column tier");
  });

  it("warns about a dropped column in the dry run, refuses it (422) unless allow_dropped_columns, then restores", async () => {
    await q("alter table contacts drop column phone");
    await q("update contacts set last_name = 'Changed' where id in (10, 11)");
    const before = await snapshot(db.client, [...APP_TABLES]);
    const dropped =
      "contacts: columns phone are in the backup but no longer in the table; their values are not restored";

    const dry = await restore(services, body({ dry_run: true }));
    expect(dry.status, JSON.stringify(dry.body)).toBe(200);
    expect(dry.body.success).toBe(true);
    expect(dry.body.summary.warnings).toContain(dropped);
    expect(dry.body.tables.contacts).toMatchObject({ would_insert: 1, would_delete: 0, would_change: 2 });

    const refused = await restore(services, body({ dry_run: false }));
    expect(refused.status, JSON.stringify(refused.body)).toBe(422);
    expect(refused.body.error.details.error).toEqual({
      sqlstate: "TB002",
      message:
        "contacts: columns phone were dropped since the backup; pass allow_dropped_columns to restore without them",
      table: "contacts",
    });
    expect(await snapshot(db.client, [...APP_TABLES])).toEqual(before);

    const allowed = await restore(services, body({ dry_run: false, allow_dropped_columns: true }));
    expect(allowed.status, JSON.stringify(allowed.body)).toBe(200);
    expect(allowed.body.success).toBe(true);
    expect(allowed.body.summary.warnings).toContain(dropped);
    // Everything the backup holds but phone is back, contact 4 included.
    expect(await asBackedUp("id, workspace_id, first_name, last_name, email, full_name")).toEqual(
      originalWithoutPhone,
    );
  });
});
