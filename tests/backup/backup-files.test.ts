/**
 * What a backup's files hold, on a schema of our own with every awkward type: exactly the tenant's rows,
 * every one of them, each value as PostgreSQL itself prints it — compared with an independent read over
 * the wire, not with our own export SQL.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readManifest } from "../../lib/backup/reader.ts";
import { backupTenant } from "../../lib/backup/tenant-backup.ts";
import type { Services } from "../../lib/services.ts";
import { parseRows, readVerifiedFile } from "../support/backup-files.ts";
import { deadlineIn } from "../support/clock.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { createTestServices, type TestServices } from "../support/services.ts";

const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url), "utf8");

let db: TestDatabase;
let services: TestServices;

/** Every row of a tenant's table as the server's own text output, in primary-key order. */
async function rawRows(sql: string, params: unknown[] = []): Promise<(string | null)[][]> {
  const result = await db.client.query({
    text: sql,
    values: params,
    rowMode: "array",
    // No parsing on our side: the server's text for every type.
    types: { getTypeParser: () => (value: string) => value },
  });
  return result.rows as (string | null)[][];
}

async function backupRows(manifestPath: string) {
  const manifest = await readManifest(services.storage, manifestPath);
  const tables = new Map<string, (string | null)[][]>();
  for (const table of manifest.tables) {
    const rows: (string | null)[][] = [];
    for (const file of table.files) rows.push(...parseRows(await readVerifiedFile(services.storage, file)));
    tables.set(table.name, rows);
  }
  return { manifest, tables };
}

beforeAll(async () => {
  db = await createTestDatabase("migrated");
  await db.owner.query(fixture("awkward-schema.sql"));
  await db.owner.query(fixture("awkward-data.sql"));
  // Small pages and parts so that these tables cross many pages and several files.
  services = await createTestServices(db.url, {
    TENANT_ROOT_TABLE: "tenants",
    TENANT_KEY: "tenant_id",
    BACKUP_LAYOUT: "files",
    BACKUP_PAGE_ROWS: "250",
    BACKUP_MAX_FILE_BYTES: "65536",
  });
  // The independent reads below use the same settings the export pins, so text compares to text.
  await db.client.query("set timezone = 'UTC'; set datestyle = 'ISO, YMD'; set intervalstyle = 'postgres'");
});

afterAll(async () => {
  await services?.cleanup();
  await db?.drop();
});

async function backup(tenantId: string, through: Services = services) {
  const result = await backupTenant(through, {
    tenantId,
    tenantName: null,
    type: "manual",
    date: "2026-11-22",
    deadline: deadlineIn(services),
  });
  if (result.status !== "completed") throw new Error(`backup of ${tenantId} did not complete`);
  return backupRows(result.summaryPath);
}

describe("backup files", () => {
  it("finds the tenant tables through keys and composite foreign keys, leaving global tables out", async () => {
    const catalog = await services.db.catalog();
    expect(catalog.tables.map((t) => t.name)).toEqual([
      "tenants",
      "accounts",
      "oddities",
      "entries",
      "entry_notes",
    ]);
    expect(catalog.tables.find((t) => t.name === "entry_notes")?.anchor).toBe("parent");
  });

  it("holds every row of the tenant, value for value as PostgreSQL prints it, across pages and files", async () => {
    const { manifest, tables } = await backup("1");
    const oddities = tables.get("oddities") ?? [];
    const expected = await rawRows(
      `select id, tenant_id, big, exact, f8, f4, ts, d, iv, raw, tags, grid, doc, doc_json, feeling, note, flag, uid
       from oddities where tenant_id = 1 order by id`,
    );
    expect(expected.length).toBeGreaterThan(1000);
    expect(oddities).toEqual(expected);
    // Several files, each under the part size, row counts adding up.
    const table = manifest.tables.find((t) => t.name === "oddities");
    expect(table?.files.length).toBeGreaterThan(1);
    expect(table?.row_count).toBe(expected.length);
    expect(table?.generated_columns).toEqual(["doubled"]);

    const entries = tables.get("entries") ?? [];
    expect(entries).toEqual(
      await rawRows("select * from entries where tenant_id_ref = 1 order by tenant_id_ref, account_no, seq"),
    );
    expect(entries.length).toBe(1800);
    expect(tables.get("entry_notes")).toEqual(
      await rawRows("select * from entry_notes where tenant_id_ref = 1 order by id"),
    );
  });

  it("keeps the values JavaScript numbers would break, as text", async () => {
    const { tables } = await backup("1");
    const first = tables.get("oddities")?.[0] ?? [];
    expect(first[2]).toBe("9007199254740993");
    expect(first[3]).toBe("12345678901234567890.123456789012345678901234567890");
    expect(first[4]).toBe("NaN");
    expect(first[5]).toBe("Infinity");
    expect(first[9]).toBe("\\x00ff00");
    expect(first[15]).toBe("");
    const second = tables.get("oddities")?.[1] ?? [];
    expect(second[15]).toBeNull();
    expect(second[4]).toBe("-Infinity");
  });

  it("never holds a row of another tenant, and the tenants' backups partition every table", async () => {
    const tenants = ["1", "2", "9007199254740993"];
    const seen = new Map<string, Set<string>>();
    for (const tenant of tenants) {
      const { tables } = await backup(tenant);
      for (const [name, rows] of tables) {
        const keys = seen.get(name) ?? new Set<string>();
        for (const row of rows) {
          const key = JSON.stringify(row);
          expect(keys.has(key), `${name} row in two tenants' backups`).toBe(false);
          keys.add(key);
        }
        seen.set(name, keys);
      }
      // Every tenant-keyed row in this tenant's files carries this tenant's id.
      const oddities = tables.get("oddities") ?? [];
      expect(oddities.every((row) => row[1] === tenant)).toBe(true);
      expect((tables.get("entries") ?? []).every((row) => row[0] === tenant)).toBe(true);
    }
    for (const name of ["tenants", "accounts", "oddities", "entries", "entry_notes"]) {
      const count = await db.client.query(`select count(*)::int as n from ${name}`);
      expect(seen.get(name)?.size, name).toBe(count.rows[0].n);
    }
  });

  it("writes the manifest last, with a checksum per file", async () => {
    const stored: string[] = [];
    const recording = {
      ...services,
      storage: {
        ...services.storage,
        async put(path: string, data: Uint8Array, type: string) {
          await services.storage.put(path, data, type);
          stored.push(path);
        },
      },
    };
    const { manifest } = await backup("2", recording);
    // The summary is the last object stored, after every file it lists, each stored once.
    const files = manifest.tables.flatMap((t) => t.files.map((f) => f.path));
    expect(stored.at(-1)).toMatch(/\/summary-[^/]+\.json$/);
    expect([...stored.slice(0, -1)].sort()).toEqual([...files].sort());
    expect(manifest.format_version).toBe(1);
    expect(manifest.organization_id).toBe("2");
    expect(manifest.total_records).toBe(manifest.tables.reduce((n, t) => n + t.row_count, 0));
    for (const table of manifest.tables) {
      for (const file of table.files) expect(file.sha256).toMatch(/^[0-9a-f]{64}$/);
    }
  });
});
