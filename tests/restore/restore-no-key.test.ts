/**
 * A tenant table without a primary key (contact_tags, tests/fixtures/restore-no-key.sql): nothing to diff
 * by, so a restore replaces the tenant's rows of it whole — duplicates included — and no one else's; unless
 * the tenant has exactly the backup's rows (each as often), and then it is left as it is.
 * (The catalog gives such a table "primary_key": JSON null; the export and the restore must both read that
 * as "no key", not try to take its elements.)
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Manifest } from "../../lib/backup/manifest.ts";
import { pickBackupForRestore } from "../../lib/restore/pick-backup.ts";
import { parseRows, readVerifiedFile } from "../support/backup-files.ts";
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

  /** Every row of the tenant's contact_tags with where it lies and which transaction wrote it. */
  const tagRows = async () =>
    (
      await db.client.query(
        `select t.ctid::text, t.xmin::text, t.contact_id, t.tag from contact_tags t
         join contacts c on c.id = t.contact_id where c.workspace_id = 'w1' order by t.ctid`,
      )
    ).rows;

  /** A real restore of w1 from backup `backupId`; fails unless it answers 200. */
  async function restoreBackup(backupId: string) {
    const real = await restore(services, {
      organization_id: "w1",
      backup_date: BACKUP_DATE,
      backup_id: backupId,
      dry_run: false,
    });
    expect(real.status, JSON.stringify(real.body)).toBe(200);
    return real;
  }

  /** The rows of contact_tags in `manifest`, sorted (a table without a key has no order to keep). */
  async function backedUpTags(manifest: Manifest) {
    const entry = manifest.tables.find((t) => t.name === "contact_tags");
    if (!entry) throw new Error("contact_tags is not in the backup");
    const rows: string[] = [];
    for (const file of entry.files) {
      for (const row of parseRows(await readVerifiedFile(services.storage, file)))
        rows.push(JSON.stringify(row));
    }
    return rows.sort();
  }

  it("is left as it is when the tenant has exactly the backup's rows, duplicates counted; its undo point holds them", async () => {
    const made = await backup(services, "w1");
    // Rows in another physical order than the backup read them, the same rows: still the same table.
    await db.client.query(
      `with moved as (delete from contact_tags where contact_id in (select id from contacts where workspace_id = 'w1'
         order by id limit 3) returning *) insert into contact_tags select * from moved`,
    );
    const before = await tagRows();
    expect(before.length).toBe(made.manifest.tables.find((t) => t.name === "contact_tags")?.row_count);

    const real = await restoreBackup(made.backupId);
    expect(real.body.tables.contact_tags).toMatchObject({
      rows_now: before.length,
      would_insert: 0,
      would_delete: 0,
    });
    // Not a row rewritten: each where it was, written by the transaction that wrote it before.
    expect(await tagRows()).toEqual(before);

    // The undo point holds the tenant's rows as they were.
    const undo = await pickBackupForRestore(services.storage, "w1", BACKUP_DATE, real.body.undo_backup_id);
    expect(await backedUpTags(undo.manifest)).toEqual(await backedUpTags(made.manifest));
  });

  it("is replaced whole when one row is there once more and another once less, the count unchanged", async () => {
    // Contact 1's tag twice in the backup, contact 2's once.
    await db.client.query("insert into contact_tags values (1, 'tag-1')");
    const original = await snapshot(db.client, [tags("= 'w1'")]);
    const made = await backup(services, "w1");
    // Then contact 1's tag once and contact 2's twice: the same rows, as many of them, not as often each.
    await db.client.query(
      "delete from contact_tags where ctid = (select ctid from contact_tags where contact_id = 1 and tag = 'tag-1' limit 1)",
    );
    await db.client.query("insert into contact_tags values (2, 'tag-2')");
    const count = (await tagRows()).length;
    expect(count).toBe(made.manifest.tables.find((t) => t.name === "contact_tags")?.row_count);

    const real = await restoreBackup(made.backupId);
    expect(real.body.tables.contact_tags).toMatchObject({ would_insert: count, would_delete: count });
    expect(await snapshot(db.client, [tags("= 'w1'")])).toEqual(original);
  });
});
