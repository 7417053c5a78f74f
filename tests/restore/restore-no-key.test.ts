/**
 * A tenant table without a primary key (contact_tags, tests/fixtures/restore-no-key.sql): nothing to diff
 * by, so a restore replaces the tenant's rows of it whole — duplicates included — and no one else's.
 * (The catalog gives such a table "primary_key": JSON null; the export and the restore must both read that
 * as "no key", not try to take its elements.)
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestDatabase } from "../support/database.ts";
import { createTestServices, type TestServices } from "../support/services.ts";
import { snapshot } from "../support/snapshot.ts";
import {
  APP_ENV,
  BACKUP_DATE,
  backup,
  createAppDatabase,
  fixture,
  restore,
  workspaceSnapshot,
} from "./app.ts";

let db: TestDatabase;
let services: TestServices;

const tags = (predicate: string) =>
  `(select t.* from contact_tags t join contacts c on c.id = t.contact_id where c.workspace_id ${predicate})`;

beforeAll(async () => {
  db = await createAppDatabase();
  await db.owner.query(fixture("restore-no-key.sql"));
  services = await createTestServices(db.url, APP_ENV);
});

afterAll(async () => {
  await services?.cleanup();
  await db?.drop();
});

describe("a tenant table without a primary key", () => {
  it("is replaced whole for the tenant, duplicates included, other tenants' rows untouched", async () => {
    const original = await snapshot(db.client, [tags("= 'w1'")]);
    const rest = await workspaceSnapshot(db.client, "= 'w1'");
    const made = await backup(services, "w1");
    const inBackup = made.manifest.tables.find((t) => t.name === "contact_tags");
    expect(inBackup?.primary_key).toBeNull();

    await db.client.query("update contact_tags set tag = 'changed' where contact_id in (1, 2)");
    await db.client.query("delete from contact_tags where contact_id = 3");
    // An exact duplicate of an existing row: only a whole replacement removes it.
    await db.client.query("insert into contact_tags values (4, 'tag-4'), (4, 'extra')");
    await db.client.query("insert into contact_tags values (41, 'w2 keeps this'), (42, 'tag-2')");
    const now = await db.client.query(
      "select count(*)::int as n from contact_tags t join contacts c on c.id = t.contact_id where c.workspace_id = 'w1'",
    );
    const others = await snapshot(db.client, [tags("<> 'w1'")]);

    const real = await restore(services, { organization_id: "w1", backup_date: BACKUP_DATE, dry_run: false });
    expect(real.status, JSON.stringify(real.body)).toBe(200);
    expect(real.body.tables.contact_tags).toMatchObject({
      record_count: inBackup?.row_count,
      rows_now: now.rows[0].n,
      would_insert: inBackup?.row_count,
      would_delete: now.rows[0].n,
      would_change: null,
    });
    expect(await snapshot(db.client, [tags("= 'w1'")])).toEqual(original);
    expect(await snapshot(db.client, [tags("<> 'w1'")])).toEqual(others);
    expect(await workspaceSnapshot(db.client, "= 'w1'")).toEqual(rest);
  });
});
