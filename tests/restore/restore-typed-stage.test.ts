/**
 * Typed staging on the direct path: a table of over 1,000 rows restored by hash (here contacts) that the
 * tenant has no rows in is staged straight into a staging table of its types (TenantDb.stageTypedPage),
 * never as lines, the small tables as lines; one the tenant has rows in is staged as lines, compared by
 * hash. The restore is exact into the emptied tenant, and over changed rows both when they were there at
 * staging and when they came back after it (typed rows matched by md5), its undo point restoring the
 * state it replaced; the staging tables go with the restore. A value PostgreSQL refuses for its type
 * (here: a domain whose check tightened since the backup) sends that table back to staging as lines, and
 * the restore fails as one staged as lines does: one transaction rolled back, nothing changed, the same
 * error.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { TestDatabase } from "../support/database.ts";
import { createTestServices, type TestServices } from "../support/services.ts";
import { snapshot } from "../support/snapshot.ts";
import { APP_ENV, APP_TABLES, BACKUP_DATE, backup, createAppDatabase, moveContacts, restore } from "./app.ts";

let db: TestDatabase;
let services: TestServices;
let original: Record<string, string>;

const q = (sql: string) => db.owner.query(sql);
const everything = () => snapshot(db.client, [...APP_TABLES]);
const body = { organization_id: "w1", backup_date: BACKUP_DATE };
const SMALL_TABLES = APP_TABLES.filter((t) => t !== "contacts").sort();

/** The tables staged typed and as lines by the calls made while `work` runs. */
async function stagedBy<T>(work: () => Promise<T>): Promise<{ result: T; typed: string[]; lines: string[] }> {
  const typed = vi.spyOn(services.db, "stageTypedPage");
  const lines = vi.spyOn(services.db, "stageRestorePage");
  try {
    const result = await work();
    const names = (spy: typeof typed | typeof lines) =>
      [...new Set(spy.mock.calls.map(([args]) => args.table))].sort();
    return { result, typed: names(typed), lines: names(lines) };
  } finally {
    typed.mockRestore();
    lines.mockRestore();
  }
}

/**
 * Runs `work` with w1's contacts out of the tenant while the typed staging of contacts is opened (moved to
 * another workspace id, foreign keys and triggers off), and back in right after: the table is staged typed,
 * and the apply then finds the tenant's rows, as when the app writes between staging and apply.
 */
async function contactsBackAfterOpening<T>(work: () => Promise<T>): Promise<T> {
  const open = services.db.openTypedStage.bind(services.db);
  const move = (from: string, to: string) => moveContacts(db.client, from, to);
  const spy = vi.spyOn(services.db, "openTypedStage").mockImplementation(async (args) => {
    if (args.spec.name !== "contacts") return open(args);
    await move("w1", "elsewhere");
    try {
      return await open(args);
    } finally {
      await move("elsewhere", "w1");
    }
  });
  try {
    return await work();
  } finally {
    spy.mockRestore();
  }
}

async function stagingTablesLeft(): Promise<number> {
  const { rows } = await db.client.query(
    `select (select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace
             where n.nspname = 'tenant_backup_staging' and c.relkind = 'r')::int
          + (select count(*) from public.tenant_backup_stage_typed)::int as n`,
  );
  return rows[0].n;
}

beforeAll(async () => {
  db = await createAppDatabase();
  await q("create domain short_code as text check (length(value) <= 10)");
  await q("alter table contacts add column code short_code");
  // Over 1,000 contacts in w1, with awkward text.
  await q(`insert into contacts (workspace_id, first_name, last_name, email)
           select 'w1', E'F\\t' || g, E'L\\n"é🙂"\\\\' || g, 'bulk-' || g || '@example.com'
           from generate_series(1, 1200) g`);
  await q("update contacts set code = 'code-' || (id % 1000)");
  services = await createTestServices(db.url, APP_ENV);
  original = await everything();
  await backup(services, "w1");
});

afterAll(async () => {
  await services?.cleanup();
  await db?.drop();
});

describe("typed staging on the direct path", () => {
  it("restores the emptied tenant exactly from rows staged typed, and leaves no staging behind", async () => {
    await q("delete from deals where workspace_id = 'w1'; delete from workspaces where id = 'w1'");
    const { result, typed, lines } = await stagedBy(() => restore(services, { ...body, dry_run: false }));
    expect(result.status, JSON.stringify(result.body)).toBe(200);
    expect(typed).toEqual(["contacts"]);
    expect(lines).toEqual(SMALL_TABLES);
    expect(await everything()).toEqual(original);
    expect(await stagingTablesLeft()).toBe(0);
  });

  it("stages as lines, compared by hash, a large table the tenant has rows in, and restores it exactly", async () => {
    await q("update contacts set first_name = 'Changed' where id in (4, 5)");
    const dry = await stagedBy(() => restore(services, { ...body, dry_run: true }));
    expect(dry.result.status, JSON.stringify(dry.result.body)).toBe(200);
    expect(dry.typed).toEqual([]);
    expect(dry.lines).toEqual([...APP_TABLES].sort());
    expect(dry.result.body.tables.contacts).toMatchObject({
      would_insert: 0,
      would_delete: 0,
      would_change: 2,
    });

    const real = await stagedBy(() => restore(services, { ...body, dry_run: false }));
    expect(real.result.status, JSON.stringify(real.result.body)).toBe(200);
    expect(real.typed).toEqual([]);
    expect(await everything()).toEqual(original);
  });

  it("dry-runs and restores rows changed after typed staging began, matched by md5, and its undo point brings them back", async () => {
    await q(`update contacts set first_name = 'Changed', phone = null where id in (2, 3);
             delete from deal_notes where id = 1;
             insert into deal_notes (deal_id, body) values (1, E'new\\tnote\\\\ with "quotes"')`);
    const changed = await everything();

    const dry = await contactsBackAfterOpening(() =>
      stagedBy(() => restore(services, { ...body, dry_run: true })),
    );
    expect(dry.result.status, JSON.stringify(dry.result.body)).toBe(200);
    expect(dry.result.body.tables.contacts).toMatchObject({
      would_insert: 0,
      would_delete: 0,
      would_change: 2,
    });
    expect(dry.result.body.tables.deal_notes).toMatchObject({ would_insert: 1, would_delete: 1 });
    expect(dry.typed).toEqual(["contacts"]);
    expect(await everything()).toEqual(changed);

    const real = await contactsBackAfterOpening(() =>
      stagedBy(() => restore(services, { ...body, dry_run: false })),
    );
    expect(real.result.status, JSON.stringify(real.result.body)).toBe(200);
    expect(real.typed).toEqual(["contacts"]);
    expect(await everything()).toEqual(original);
    expect(await stagingTablesLeft()).toBe(0);

    const undoId = real.result.body.summary.undo_backup_id as string;
    const run = await services.db.getRun(undoId);
    const undo = await restore(services, {
      organization_id: "w1",
      backup_date: run?.backup_date,
      backup_id: undoId,
      dry_run: false,
    });
    expect(undo.status, JSON.stringify(undo.body)).toBe(200);
    expect(await everything()).toEqual(changed);
  });

  it("stages a table as lines when PostgreSQL refuses one of its values, and fails as before, changing nothing", async () => {
    // Back to the backup's rows, then a check the backup's codes no longer pass.
    const back = await restore(services, { ...body, dry_run: false });
    expect(back.status, JSON.stringify(back.body)).toBe(200);
    // A code the typed staging refuses even in rows the restore leaves alone; staged as lines, only the
    // rows it writes are read with their types, as before: here a contact whose name changed.
    await q("update contacts set first_name = 'Renamed' where id = 7");
    await q("alter domain short_code drop constraint short_code_check");
    await q("alter domain short_code add constraint short_code_check check (length(value) <= 3) not valid");
    const before = await everything();

    const refused = await contactsBackAfterOpening(() =>
      stagedBy(() => restore(services, { ...body, dry_run: false })),
    );
    expect(refused.result.status, JSON.stringify(refused.result.body)).toBe(422);
    expect(refused.lines).toEqual([...APP_TABLES].sort());
    expect(refused.typed).toEqual(["contacts"]);
    expect(refused.result.body.error.details.error).toMatchObject({
      sqlstate: "23514",
      message: 'value for domain public.short_code violates check constraint "short_code_check"',
    });
    // Read from the staged lines, as every restore reads a value it writes when staged as lines.
    expect(refused.result.body.error.details.error.context).toContain("s.line::jsonb");
    expect(await everything()).toEqual(before);
    expect(await stagingTablesLeft()).toBe(0);
    await q("alter domain short_code drop constraint short_code_check");
  });
});
