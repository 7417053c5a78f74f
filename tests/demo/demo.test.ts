import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DEMO_CHILD_TABLES,
  DEMO_GLOBAL_TABLES,
  DEMO_ORGANIZATIONS,
  DEMO_TABLES,
  hasDemo,
  installDemo,
} from "../../scripts/demo/install.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

// The child tables have no organization_id; they reach it through their parent.
const CHILD_PARENT: Record<string, { fk: string; parent: string }> = {
  invoice_line_items: { fk: "invoice_id", parent: "rental_invoices" },
  support_ticket_messages: { fk: "ticket_id", parent: "support_tickets" },
  sales_order_items: { fk: "sales_order_id", parent: "sales_orders" },
};

function rowsPerOrganizationSql(table: string): string {
  if (table === "organizations")
    return "select id::text as org, count(*)::integer as n from organizations group by id";
  const child = CHILD_PARENT[table];
  if (child) {
    return `select p.organization_id::text as org, count(*)::integer as n from ${table} c
      join ${child.parent} p on p.id = c.${child.fk} group by p.organization_id`;
  }
  return `select organization_id::text as org, count(*)::integer as n from ${table} group by organization_id`;
}

describe("demo schema and data", () => {
  let db: TestDatabase;
  let client: pg.Client;
  const counts = new Map<string, Map<string, number>>();

  beforeAll(async () => {
    db = await createTestDatabase("empty");
    client = db.owner;
    expect(await hasDemo(client)).toBe(false);
    await installDemo(client);
    for (const table of DEMO_TABLES) {
      const { rows } = await client.query<{ org: string; n: number }>(rowsPerOrganizationSql(table));
      counts.set(table, new Map(rows.map((row) => [row.org, row.n])));
    }
  }, 180_000);

  afterAll(async () => {
    await db?.drop();
  }, 60_000);

  it("creates the 24 tenant tables and the 2 global tables in public", async () => {
    expect(DEMO_TABLES).toHaveLength(24);
    const { rows } = await client.query<{ table_name: string }>(
      "select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'",
    );
    expect(rows.map((row) => row.table_name).sort()).toEqual([...DEMO_TABLES, ...DEMO_GLOBAL_TABLES].sort());
    expect(await hasDemo(client)).toBe(true);
  });

  it("gives every tenant table rows for each of the three organizations", () => {
    for (const table of DEMO_TABLES) {
      for (const org of DEMO_ORGANIZATIONS) {
        expect(counts.get(table)?.get(org.id) ?? 0, `${table} / ${org.name}`).toBeGreaterThan(0);
      }
    }
  });

  it("makes the first organization large and the others small", () => {
    const [large, ...small] = DEMO_ORGANIZATIONS;
    const largest = (orgId: string) =>
      Math.max(...DEMO_TABLES.map((table) => counts.get(table)?.get(orgId) ?? 0));
    expect(largest(large?.id ?? "")).toBeGreaterThan(10_000);
    for (const org of small) expect(largest(org.id)).toBeLessThan(largest(large?.id ?? ""));
  });

  it("names the organizations as DEMO_ORGANIZATIONS says", async () => {
    const { rows } = await client.query<{ id: string; name: string }>(
      "select id::text, name from organizations order by id",
    );
    expect(rows).toEqual(DEMO_ORGANIZATIONS);
  });

  it("leaves organization_id out of the child tables and the global tables", async () => {
    const { rows } = await client.query<{ table_name: string }>(
      "select table_name from information_schema.columns where table_schema = 'public' and column_name = 'organization_id'",
    );
    const withKey = new Set(rows.map((row) => row.table_name));
    for (const table of [...DEMO_CHILD_TABLES, ...DEMO_GLOBAL_TABLES])
      expect(withKey.has(table), table).toBe(false);
    const others = DEMO_TABLES.filter(
      (table) => table !== "organizations" && !DEMO_CHILD_TABLES.includes(table),
    );
    for (const table of others) expect(withKey.has(table), table).toBe(true);
  });

  it("keeps the global tables free of references to tenant tables", async () => {
    const { rows } = await client.query<{ n: number }>(
      `select count(*)::integer as n from pg_constraint
        where contype = 'f' and conrelid = any($1::text[]::regclass[])`,
      [DEMO_GLOBAL_TABLES],
    );
    expect(rows[0]?.n).toBe(0);
  });

  it("keeps awkward values intact", async () => {
    const { rows } = await client.query<Record<string, string | null>>(
      `select
        (select external_ref::text from customers where name = 'Zoë''s Café & Welding 🔥🚀' limit 1) as big,
        (select string_agg(pressure_bar::text, ',' order by pressure_bar) from cylinder_fills
          where pressure_bar in ('NaN', 'Infinity', '-Infinity')) as floats,
        (select count(*)::text from customers where phone = '') as empty_phone,
        (select count(*)::text from customers where phone is null) as null_phone`,
    );
    expect(rows[0]?.big).toBe("9007199254740993");
    expect(rows[0]?.floats).toBe("-Infinity,-Infinity,-Infinity,Infinity,Infinity,Infinity,NaN,NaN,NaN");
    expect(Number(rows[0]?.empty_phone)).toBeGreaterThan(0);
    expect(Number(rows[0]?.null_phone)).toBeGreaterThan(0);
  });

  it("refuses to install over an existing demo", async () => {
    await expect(installDemo(client)).rejects.toThrow(/already exists/);
  });
});
