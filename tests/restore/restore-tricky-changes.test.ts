/**
 * Changes since the backup that a naive diff gets wrong:
 * - unique values swapped or passed on between rows of the tenant (an UPDATE checks unique indexes row by
 *   row, so writing the old values back in place trips over them), and a unique value freed by a deleted
 *   row and taken by a new one;
 * - column names that need quoting, with ", " and '"' in them;
 * - a float changed in its last digit, on a database whose sessions print floats rounded
 *   (extra_float_digits = 0): the comparison must still see the change.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestDatabase } from "../support/database.ts";
import { createTestServices, type TestServices } from "../support/services.ts";
import { snapshot } from "../support/snapshot.ts";
import { APP_ENV, APP_TABLES, BACKUP_DATE, backup, createAppDatabase, restore } from "./app.ts";

let db: TestDatabase;
let services: TestServices;
let original: Record<string, string>;

// The app at work: its own role changes its data and schema, as `postgres` does on Supabase.
const q = (sql: string) => db.owner.query(sql);
const everything = () => snapshot(db.client, [...APP_TABLES]);
const body = { organization_id: "w1", backup_date: BACKUP_DATE };

beforeAll(async () => {
  db = await createAppDatabase();
  // One primary contact per workspace, a column whose name needs quoting, and a float.
  await q("alter table contacts add column is_primary boolean not null default false");
  await q("create unique index contacts_one_primary on contacts (workspace_id) where is_primary");
  await q("update contacts set is_primary = true where id in (1, 41, 81)");
  await q(`alter table contacts add column "label, ""quoted""" text default 'plain'`);
  await q("alter table deals add column ratio double precision not null default 0.1");
  services = await createTestServices(db.url, APP_ENV);
  original = await everything();
  await backup(services, "w1");
});

afterAll(async () => {
  await services?.cleanup();
  await db?.drop();
});

describe("changes a naive diff gets wrong", () => {
  it("undoes unique values swapped, passed on, and freed then taken", async () => {
    // Contacts 1 and 2 swap emails; the primary flag moves from 1 to 3; 8 goes and a newcomer takes its email.
    await q(`update contacts set email = 'swap' where id = 1;
             update contacts set email = 'w1-1@example.com' where id = 2;
             update contacts set email = 'w1-2@example.com' where id = 1;
             update contacts set is_primary = false where id = 1;
             update contacts set is_primary = true where id = 3;
             delete from contacts where id = 8;
             insert into contacts (workspace_id, first_name, last_name, email)
             values ('w1', 'New', 'Comer', 'w1-8@example.com')`);

    const dry = await restore(services, { ...body, dry_run: true });
    expect(dry.status, JSON.stringify(dry.body)).toBe(200);
    expect(dry.body.summary.errors).toEqual([]);
    expect(dry.body.tables.contacts).toMatchObject({ would_insert: 1, would_delete: 1, would_change: 3 });

    const real = await restore(services, { ...body, dry_run: false });
    expect(real.status, JSON.stringify(real.body)).toBe(200);
    expect(await everything()).toEqual(original);
  });

  it("restores columns whose names hold a comma, a space and quotes", async () => {
    await q(`update contacts set "label, ""quoted""" = 'changed' where id in (5, 6)`);
    const real = await restore(services, { ...body, dry_run: false });
    expect(real.status, JSON.stringify(real.body)).toBe(200);
    expect(real.body.tables.contacts).toMatchObject({ would_insert: 0, would_delete: 0, would_change: 2 });
    expect(await everything()).toEqual(original);
  });

  it("sees a float changed in its last digit when the database prints floats rounded", async () => {
    await q("update deals set ratio = 0.1 + 1e-16 where id in (1, 2)");
    const ratios = await q("select ratio::text as r from deals where id = 1");
    expect(ratios.rows[0].r).toBe("0.1000000000000001");
    await q(`alter database ${db.name} set extra_float_digits = 0`);
    // New connections take the database's setting.
    const rounded = await createTestServices(db.url, { ...APP_ENV, BACKUP_DIR: services.backupDir });
    try {
      const probe = new pg.Client({ connectionString: db.url });
      await probe.connect();
      const shown = await probe.query("select 0.1000000000000001::float8::text as r");
      await probe.end();
      expect(shown.rows[0].r).toBe("0.1");
      const real = await restore(rounded, { ...body, dry_run: false });
      expect(real.status, JSON.stringify(real.body)).toBe(200);
      expect(real.body.tables.deals).toMatchObject({ would_insert: 0, would_delete: 0, would_change: 2 });
      expect(await everything()).toEqual(original);
    } finally {
      await rounded.cleanup();
      await q(`alter database ${db.name} reset extra_float_digits`);
    }
  });
});
