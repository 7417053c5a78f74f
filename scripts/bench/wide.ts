/**
 * The benchmark's `wide` tenant: one table of 200 columns of mixed types (integers, numerics, text,
 * timestamps, dates, booleans, uuids, jsonb, arrays, bytea), about one value in nine null, under an
 * organizations root. ACME holds `rows` rows, another tenant a few, so that scoping is real.
 */
import type pg from "pg";

export const WIDE_COLUMNS = 200;

/** Per column type, the value of row g in column c (null about one time in nine). */
const KINDS: [type: string, value: (c: number) => string][] = [
  ["bigint", (c) => `g * ${c}`],
  ["integer", (c) => `(g + ${c}) % 100000`],
  ["numeric(14,4)", (c) => `(g * ${c}) / 7.0`],
  ["double precision", (c) => `g / ${c + 0.5}`],
  ["text", (c) => `'value ' || g || ' of column ${c}'`],
  ["timestamptz", (c) => `timestamptz '2026-01-01' + (g * ${c}) * interval '1 second'`],
  ["date", (c) => `date '2020-01-01' + ((g + ${c}) % 3000)`],
  ["boolean", (c) => `(g + ${c}) % 3 = 0`],
  ["uuid", (c) => `md5(g::text || '-${c}')::uuid`],
  ["jsonb", (c) => `jsonb_build_object('n', g, 'c', ${c}, 'tags', jsonb_build_array('a', g % 7))`],
  ["text[]", (c) => `array['x' || g, 'y' || ${c}]`],
  ["bytea", (c) => `decode(md5(g::text || '${c}'), 'hex')`],
];

const column = (c: number) => KINDS[c % KINDS.length] as (typeof KINDS)[number];

export async function fillWide(client: pg.Client, tenantId: string, rows: number): Promise<void> {
  const columns = Array.from({ length: WIDE_COLUMNS - 2 }, (_, i) => i + 1);
  const definitions = columns.map((c) => `c${c} ${column(c)[0]}`).join(",\n  ");
  const values = columns
    .map((c) => `case when (g + ${c}) % 9 = 0 then null else ${column(c)[1](c)} end`)
    .join(",\n    ");
  await client.query(`
    create table organizations (id uuid primary key, name text not null);
    create table wide_records (id bigint primary key, organization_id uuid not null references organizations,
      ${definitions});
    create index on wide_records (organization_id);
    insert into organizations values ('${tenantId}', 'Acme'), (md5('other')::uuid, 'Other');
    insert into wide_records
    select g, case when g <= ${rows} then '${tenantId}'::uuid else md5('other')::uuid end,
      ${values}
    from generate_series(1, ${rows + 500}) g;`);
}
