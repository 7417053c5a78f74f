/**
 * Keys and sequences: rows keyed by identity ALWAYS, identity BY DEFAULT and serial columns come back with
 * their own key values; afterwards every sequence is past the restored keys, so a plain insert gets a
 * fresh key, and no sequence is ever moved back (other tenants draw from the same sequences).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestDatabase } from "../support/database.ts";
import { createTestServices, type TestServices } from "../support/services.ts";
import { APP_ENV, BACKUP_DATE, backup, createAppDatabase, restore, workspaceSnapshot } from "./app.ts";

let db: TestDatabase;
let services: TestServices;

beforeAll(async () => {
  db = await createAppDatabase();
  services = await createTestServices(db.url, APP_ENV);
});

afterAll(async () => {
  await services?.cleanup();
  await db?.drop();
});

// The app at work: its own role changes its data and schema, as `postgres` does on Supabase.
const q = (sql: string) => db.owner.query(sql);

/** last_value of the sequence behind each key (null: never drawn from since it was reset). */
async function sequences() {
  const { rows } = await q(`select
      pg_sequence_last_value(pg_get_serial_sequence('contacts', 'id')::regclass)::int as contacts,
      pg_sequence_last_value(pg_get_serial_sequence('deals', 'id')::regclass)::int as deals,
      pg_sequence_last_value(pg_get_serial_sequence('deal_notes', 'id')::regclass)::int as deal_notes`);
  return rows[0] as { contacts: number | null; deals: number | null; deal_notes: number | null };
}

/** Inserts one row per keyed table the way the app does, without a key; answers the keys it got. */
async function plainInserts() {
  const contact = await q(`insert into contacts (workspace_id, first_name, last_name, email)
                           values ('w1', 'Plain', 'Insert', 'plain-${Date.now()}@example.com') returning id`);
  const deal = await q(`insert into deals (workspace_id, contact_id, amount)
                        values ('w1', ${contact.rows[0].id}, 1) returning id`);
  const note = await q(
    `insert into deal_notes (deal_id, body) values (${deal.rows[0].id}, 'plain') returning id`,
  );
  return { contacts: Number(contact.rows[0].id), deals: deal.rows[0].id, deal_notes: note.rows[0].id };
}

describe("restored keys and sequences", () => {
  it("keeps identity ALWAYS, BY DEFAULT and serial keys, and never moves a sequence back", async () => {
    const original = await workspaceSnapshot(db.client, "= 'w1'");
    await backup(services, "w1");

    // w1 loses rows, its newest keys among them (cascading to deals and notes) ...
    await q("delete from contacts where id in (5, 38, 39, 40)");
    await q("delete from deal_notes where id in (2, 6, 10)");
    // ... while w2 keeps working, drawing new keys from every sequence.
    await q(`insert into contacts (workspace_id, first_name, last_name, email)
             select 'w2', 'New', 'Person ' || i, 'new-' || i || '@w2.example.com' from generate_series(1, 5) i`);
    await q(
      "insert into deals (workspace_id, contact_id, amount) select 'w2', 41, i from generate_series(1, 5) i",
    );
    await q(
      "insert into deal_notes (deal_id, body) select id, 'new' from deals where workspace_id = 'w2' and amount < 10",
    );
    const others = await workspaceSnapshot(db.client, "<> 'w1'");
    const drawn = await sequences();
    expect(drawn).toEqual({ contacts: 125, deals: 185, deal_notes: 95 });

    const real = await restore(services, { organization_id: "w1", backup_date: BACKUP_DATE, dry_run: false });
    expect(real.status, JSON.stringify(real.body)).toBe(200);
    expect(real.body.tables.contacts).toMatchObject({ would_insert: 4, would_delete: 0, would_change: 0 });
    // Two deals for each deleted contact that had any (5, 38, 39); 3 of their notes and 3 deleted directly.
    expect(real.body.tables.deals).toMatchObject({ would_insert: 6, would_delete: 0, would_change: 0 });
    expect(real.body.tables.deal_notes).toMatchObject({ would_insert: 6, would_delete: 0, would_change: 0 });
    expect(await workspaceSnapshot(db.client, "= 'w1'")).toEqual(original);
    expect(await workspaceSnapshot(db.client, "<> 'w1'")).toEqual(others);

    // The sequences were already past every restored key: left where they were, not moved back to w1's.
    expect(await sequences()).toEqual(drawn);
    expect(await plainInserts()).toEqual({ contacts: 126, deals: 186, deal_notes: 96 });
  });

  it("moves sequences past the restored keys when they are behind (tables emptied, identities reset)", async () => {
    const original = await workspaceSnapshot(db.client, "= 'w1'");
    await backup(services, "w1", "2026-11-21");
    await q("truncate workspaces, contacts, deals, deal_notes restart identity");
    expect(await sequences()).toEqual({ contacts: null, deals: null, deal_notes: null });

    const real = await restore(services, {
      organization_id: "w1",
      backup_date: "2026-11-21",
      dry_run: false,
    });
    expect(real.status, JSON.stringify(real.body)).toBe(200);
    expect(await workspaceSnapshot(db.client, "= 'w1'")).toEqual(original);
    // The restored w1 holds contact 126, deal 186 and note 96 (the plain inserts above).
    expect(await sequences()).toEqual({ contacts: 126, deals: 186, deal_notes: 96 });
    expect(await plainInserts()).toEqual({ contacts: 127, deals: 187, deal_notes: 97 });
  });
});
