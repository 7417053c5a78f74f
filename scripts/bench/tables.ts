/**
 * The benchmark's `tables` tenant: `count` tenant tables under an organizations root, small to medium (from
 * a tenth to about twice `rowsEach` rows, in a fixed spread), each with a key, a foreign key to the root and
 * a few ordinary columns. ACME holds those rows; another tenant a row a table, so that scoping is real.
 * With many tables and few rows each, the costs paid once per table show.
 */
import type pg from "pg";

/** Table i's share of `rowsEach`: 0.1×, 0.3×, … 1.9×, repeating (mean 1×). */
const spread = (i: number) => 0.1 + 0.2 * (i % 10);

export async function fillTables(client: pg.Client, tenantId: string, count: number, rowsEach: number) {
  await client.query(`
    create table organizations (id uuid primary key, name text not null);
    insert into organizations values ('${tenantId}', 'Acme'), (md5('other')::uuid, 'Other');`);
  for (let i = 1; i <= count; i++) {
    const rows = Math.max(1, Math.round(rowsEach * spread(i)));
    await client.query(`
      create table items_${i} (id bigint primary key, organization_id uuid not null references organizations,
        label text, amount numeric(12,2), created_at timestamptz, active boolean);
      create index on items_${i} (organization_id);
      insert into items_${i}
      select g, case when g <= ${rows} then '${tenantId}'::uuid else md5('other')::uuid end,
        'item ' || g || ' of table ${i}', (g * ${i}) / 100.0, timestamptz '2026-01-01' + g * interval '1 minute',
        g % 2 = 0
      from generate_series(1, ${rows + 1}) g;`);
  }
}
