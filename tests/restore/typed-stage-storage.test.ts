/**
 * Rows staged typed are stored as they come: PostgreSQL compresses the values of a row over about 2 kB
 * before storing it, and the apply's insert into the tenant's table compresses them again, so compressing
 * them in the staging table (written once, read once) only costs time (20261211000100). Contacts with
 * names of 3,000 characters are staged typed into the emptied tenant; the staging table holds each of
 * those rows, none of their values compressed, and the restore is exact.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { TestDatabase } from "../support/database.ts";
import { createTestServices, type TestServices } from "../support/services.ts";
import { snapshot } from "../support/snapshot.ts";
import { APP_ENV, APP_TABLES, BACKUP_DATE, backup, createAppDatabase, restore } from "./app.ts";

let db: TestDatabase;
let services: TestServices;
let original: Record<string, string>;

const everything = () => snapshot(db.client, [...APP_TABLES]);
const LONG_ROWS = 300;

/** Each staging table's rows with a long last name, and those of them holding a compressed value. */
async function stagedLongNames(): Promise<{ long: number; compressed: number }> {
  const { rows: tables } = await db.client.query<{ relname: string }>(
    `select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = 'tenant_backup_staging' and c.relkind = 'r'`,
  );
  let long = 0;
  let compressed = 0;
  for (const { relname } of tables) {
    const { rows } = await db.client.query<{ long: number; compressed: number }>(
      `select count(*)::int as long,
              count(*) filter (where pg_column_compression(last_name) is not null)::int as compressed
       from tenant_backup_staging."${relname}" where length(last_name) >= 3000`,
    );
    long += rows[0]?.long ?? 0;
    compressed += rows[0]?.compressed ?? 0;
  }
  return { long, compressed };
}

beforeAll(async () => {
  db = await createAppDatabase();
  // Over 1,000 contacts in w1 (so contacts is staged typed), 300 of them rows of over 3 kB whose name
  // PostgreSQL would compress to a few dozen bytes.
  await db.owner.query(`insert into contacts (workspace_id, first_name, last_name, email)
           select 'w1', 'F' || g, case when g <= ${LONG_ROWS} then repeat('long name ', 300) || g else 'L' || g end,
                  'bulk-' || g || '@example.com'
           from generate_series(1, 1200) g`);
  services = await createTestServices(db.url, APP_ENV);
  original = await everything();
  await backup(services, "w1");
});

afterAll(async () => {
  await services?.cleanup();
  await db?.drop();
});

describe("typed staging's storage", () => {
  it("keeps rows of over 2 kB staged typed uncompressed, and restores them exactly", async () => {
    await db.owner.query(
      "delete from deals where workspace_id = 'w1'; delete from workspaces where id = 'w1'",
    );
    expect(
      (await db.client.query("select count(*)::int as n from contacts where workspace_id = 'w1'")).rows[0].n,
    ).toBe(0);
    // Read after each page is staged: the apply's commit drops the staging table with the restore.
    const seen = { long: 0, compressed: 0 };
    const stage = services.db.stageTypedPage.bind(services.db);
    const spy = vi.spyOn(services.db, "stageTypedPage").mockImplementation(async (args) => {
      const result = await stage(args);
      const now = await stagedLongNames();
      seen.long = Math.max(seen.long, now.long);
      seen.compressed = Math.max(seen.compressed, now.compressed);
      return result;
    });
    try {
      const result = await restore(services, {
        organization_id: "w1",
        backup_date: BACKUP_DATE,
        dry_run: false,
      });
      expect(result.status, JSON.stringify(result.body)).toBe(200);
    } finally {
      spy.mockRestore();
    }
    expect(seen.long).toBe(LONG_ROWS);
    expect(seen.compressed).toBe(0);
    expect(await everything()).toEqual(original);
  });
});
