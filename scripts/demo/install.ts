/**
 * The demo app: the reference users' 24 tenant tables (a gas-cylinder rental business) and three
 * organizations of data, for the local server, the tests and the benchmark; never used by lib/, which
 * must discover tenant tables from the database instead of from these lists.
 */
import { readFile } from "node:fs/promises";
import type pg from "pg";

/** The tenant tables, as the reference setup guide lists them. */
export const DEMO_TABLES: readonly string[] = [
  "organizations",
  "profiles",
  "customers",
  "bottles",
  "rentals",
  "rental_invoices",
  "invoice_line_items",
  "deliveries",
  "notifications",
  "audit_logs",
  "support_tickets",
  "support_ticket_messages",
  "locations",
  "gas_types",
  "cylinder_fills",
  "bottle_scans",
  "user_invites",
  "ownership_values",
  "organization_join_codes",
  "customer_support",
  "verification_requests",
  "verified_orders",
  "sales_orders",
  "sales_order_items",
];

/** Global lookup tables that tenant rows point at; not tenant data, so never backed up per tenant. */
export const DEMO_GLOBAL_TABLES: readonly string[] = ["countries", "gas_catalog"];

/** Tenant tables that have no organization_id and reach their tenant only through a parent. */
export const DEMO_CHILD_TABLES: readonly string[] = [
  "invoice_line_items",
  "support_ticket_messages",
  "sales_order_items",
];

/** The first one is the large tenant whose size follows `scale`; the ids are fixed in data.sql. */
export const DEMO_ORGANIZATIONS: readonly { id: string; name: string }[] = [
  { id: "00000000-0000-4000-8000-000000000001", name: "Acme Gas Co" },
  { id: "00000000-0000-4000-8000-000000000002", name: "Bluewater Welding" },
  { id: "00000000-0000-4000-8000-000000000003", name: "Cedar Medical Supply" },
];

async function readSql(name: string): Promise<string> {
  return readFile(new URL(`./${name}`, import.meta.url), "utf8");
}

/**
 * Creates the demo schema and data in an EMPTY database (throws if organizations already exists).
 * `scale` multiplies the large organization's row counts (default 1, about 110,000 rows for it); the
 * other two keep a fixed size. All in one transaction, so a failure leaves the database as it was.
 */
export async function installDemo(client: pg.ClientBase, options: { scale?: number } = {}): Promise<void> {
  const scale = options.scale ?? 1;
  if (!Number.isFinite(scale) || scale <= 0) {
    throw new RangeError(`installDemo: scale must be a positive number, got ${scale}`);
  }
  const { rows } = await client.query<{ present: boolean }>(
    "select to_regclass('public.organizations') is not null as present",
  );
  if (rows[0]?.present) {
    throw new Error("installDemo needs an empty database, but public.organizations already exists");
  }
  const [schema, data] = await Promise.all([readSql("schema.sql"), readSql("data.sql")]);
  await client.query("begin");
  try {
    // The SQL files name tables without a schema; pin it so that a custom search_path cannot scatter them.
    await client.query(
      "select set_config('search_path', 'public', true), set_config('demo.scale', $1, true)",
      [String(scale)],
    );
    // No parameters: the simple query protocol, which accepts a whole file of statements.
    await client.query(schema);
    await client.query(data);
    await client.query("commit");
  } catch (error) {
    await client.query("rollback").catch(() => {});
    throw error;
  }
}

/**
 * The demo's validation rules and the few rows that break them (rules.sql), for the validation report to
 * show. Run once, right after installDemo, once the project's migrations are applied.
 */
export async function installDemoValidation(client: pg.ClientBase): Promise<void> {
  const sql = await readSql("rules.sql");
  await client.query("begin");
  try {
    await client.query("select set_config('search_path', 'public', true)");
    await client.query(sql);
    await client.query("commit");
  } catch (error) {
    await client.query("rollback").catch(() => {});
    throw error;
  }
}

/** True when the demo schema is present: every tenant and global table of the demo exists in public. */
export async function hasDemo(client: pg.ClientBase): Promise<boolean> {
  const { rows } = await client.query<{ missing: number }>(
    "select count(*)::integer as missing from unnest($1::text[]) as t(name) " +
      "where to_regclass(format('public.%I', t.name)) is null",
    [[...DEMO_TABLES, ...DEMO_GLOBAL_TABLES]],
  );
  return rows[0]?.missing === 0;
}
