/**
 * On the reference app's schema: the catalog finds exactly its 24 tenant tables, parents before children,
 * and the daily backups of all tenants together hold every row of every tenant table exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runDailyBackup } from "../../lib/backup/daily.ts";
import { readManifest } from "../../lib/backup/reader.ts";
import { DEMO_CHILD_TABLES, DEMO_GLOBAL_TABLES, DEMO_TABLES } from "../../scripts/demo/install.ts";
import { parseRows, readVerifiedFile } from "../support/backup-files.ts";
import { deadlineIn } from "../support/clock.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { createTestServices, type TestServices } from "../support/services.ts";

let db: TestDatabase;
let services: TestServices;

beforeAll(async () => {
  db = await createTestDatabase("demo");
  services = await createTestServices(db.url);
});

afterAll(async () => {
  await services?.cleanup();
  await db?.drop();
});

describe("the demo schema's catalog", () => {
  it("is exactly the 24 tenant tables, without global tables or our own", async () => {
    const catalog = await services.db.catalog();
    const names = catalog.tables.map((t) => t.name);
    expect([...names].sort()).toEqual([...DEMO_TABLES].sort());
    for (const global of [...DEMO_GLOBAL_TABLES, "backup_logs"]) expect(names).not.toContain(global);
    for (const child of DEMO_CHILD_TABLES) {
      expect(catalog.tables.find((t) => t.name === child)?.anchor).toBe("parent");
    }
  });

  it("reaches a child through its NOT NULL parent key when it has a nullable one too", async () => {
    const catalog = await services.db.catalog();
    const messages = catalog.tables.find((t) => t.name === "support_ticket_messages");
    expect(messages?.parent).toMatchObject({ table: "support_tickets", nullable: false });
  });

  it("orders parents before children along every foreign key between tenant tables", async () => {
    const catalog = await services.db.catalog();
    const position = new Map(catalog.tables.map((t, i) => [t.name, i]));
    for (const fk of catalog.foreign_keys) {
      if (!fk.ref_is_tenant || fk.table === fk.ref_table) continue;
      expect(position.get(fk.ref_table), `${fk.table} -> ${fk.ref_table}`).toBeLessThan(
        position.get(fk.table) as number,
      );
    }
  });

  it("backs up every row of every tenant table exactly once across the tenants", async () => {
    const result = await runDailyBackup(services, { deadline: deadlineIn(services) });
    expect(result.complete).toBe(true);
    // Each table's rows, by primary key, as the parts of every tenant's backup hold them.
    const backedUp = new Map<string, string[]>();
    const keyColumns = new Map<string, string[]>();
    for (const tenant of result.tenants) {
      const objects = await services.storage.list(`tenant-backups/${tenant.organization_id}/`);
      const summary = objects.find((o) => o.path.includes("/summary-"));
      const manifest = await readManifest(services.storage, summary?.path as string);
      for (const table of manifest.tables) {
        const key = table.primary_key;
        if (!key) throw new Error(`${table.name} has no primary key to tell its rows apart`);
        keyColumns.set(table.name, key);
        const at = key.map((column) => table.columns.findIndex((c) => c.name === column));
        const keys = backedUp.get(table.name) ?? [];
        for (const file of table.files) {
          for (const row of parseRows(await readVerifiedFile(services.storage, file))) {
            keys.push(JSON.stringify(at.map((i) => row[i])));
          }
        }
        backedUp.set(table.name, keys);
      }
    }
    for (const table of DEMO_TABLES) {
      const key = keyColumns.get(table) as string[];
      const { rows } = await db.client.query({
        text: `select ${key.map((c) => `${c}::text`).join(", ")} from ${table}`,
        rowMode: "array",
      });
      const inDatabase = rows.map((values) => JSON.stringify(values)).sort();
      const keys = [...(backedUp.get(table) ?? [])].sort();
      // None twice (a duplicate would survive in the sorted list), none missing, none extra.
      expect(new Set(keys).size, `${table}: rows backed up twice`).toBe(keys.length);
      expect(keys, table).toEqual(inDatabase);
    }
  });
});
