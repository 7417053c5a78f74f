-- Demo data for schema.sql: three organizations, every tenant table filled for each of them.
--
-- Set-based (generate_series + INSERT ... SELECT) so that a million rows load in seconds, and
-- deterministic: no random(), no now(). Pseudo-random choices come from hashint8extended(), uuids from
-- md5(), so two installs produce the same rows and tests can name them.
--
-- The size of the large organization (Acme) is multiplied by the custom setting demo.scale (default 1),
-- e.g. `select set_config('demo.scale', '10', true)` before running this file; the two small ones keep
-- a fixed size. Timestamps avoid day/month interval arithmetic and ::date casts on timestamptz so that
-- the result does not depend on the session's TimeZone.
--
-- A few rows carry awkward values on purpose (mostly rows 1-6 of a table): bigint beyond 2^53, numeric
-- with many digits, NaN and +-Infinity, '' versus NULL, emoji and combining marks, tabs, newlines,
-- backslashes and quotes, the text '\N', bytea with zero bytes, JSON null versus SQL NULL, arrays with NULL
-- elements and commas, mixed-sign intervals, infinite timestamps.

-- Helpers live in pg_temp so that nothing is left behind in the demo database.

-- A uuid derived from (kind, organization, row number), shaped as version 4 so that strict validators
-- accept it. The explicit ::text casts matter: text || integer is only STABLE, which would stop PostgreSQL
-- from inlining this function and make every call cost a function-executor round (5x slower overall).
create function pg_temp.demo_uuid(kind text, org_no integer, n bigint) returns uuid
language sql immutable
as $$
  select overlay(overlay(md5(kind || '/' || org_no::text || '/' || n::text) placing '4' from 13) placing '8' from 17)::uuid
$$;

-- A pseudo-random integer in [0, m) for row n of an organization; salt decorrelates columns.
create function pg_temp.demo_rnd(org_no integer, n bigint, salt integer, m integer) returns integer
language sql immutable
as $$ select ((hashint8extended(n, salt * 8 + org_no) & 2147483647) % m)::integer $$;

-- Ids of the bigint-keyed parents are computed rather than taken from the sequence, interleaving the
-- three organizations as a real multi-tenant table would (org 1 gets 1, 4, 7, ...), so that children can
-- point at them without a join. Tied to there being exactly 3 organizations.
create function pg_temp.demo_id(org_no integer, n bigint) returns bigint
language sql immutable
as $$ select (n - 1) * 3 + org_no $$;

-- Each organization's last invoice has an id beyond 2^53 so that a child foreign key holds one too.
create function pg_temp.demo_invoice_id(org_no integer, n bigint, last bigint) returns bigint
language sql immutable
as $$ select case when n = last then 9007199254740990 + org_no else (n - 1) * 3 + org_no end $$;

-- Bulk-load the way pg_restore does: foreign keys and plain indexes are set aside while the rows go in
-- and rebuilt at the end from their own catalog definitions, so names and definitions come back unchanged.
-- Each foreign key is then validated by one join instead of one lookup per row, and each index is built by
-- one sort; together about three times faster than loading into the finished schema.
select set_config('work_mem', '64MB', true), set_config('maintenance_work_mem', '256MB', true);

create temp table demo_deferred_ddl as
select 1 as step, format('alter table %s add constraint %I %s', c.conrelid::regclass, c.conname,
    pg_get_constraintdef(c.oid)) as create_ddl,
  format('alter table %s drop constraint %I', c.conrelid::regclass, c.conname) as drop_ddl
from pg_constraint as c
where c.contype = 'f' and c.connamespace = 'public'::regnamespace
union all
-- Only non-unique indexes that back no constraint: unique ones may be the target of a foreign key.
select 0, pg_get_indexdef(i.indexrelid), format('drop index %s', i.indexrelid::regclass)
from pg_index as i
join pg_class as ic on ic.oid = i.indexrelid
where ic.relnamespace = 'public'::regnamespace and not i.indisunique
  and not exists (select from pg_constraint as k where k.conindid = i.indexrelid);

do $$
declare
  statement text;
begin
  for statement in select drop_ddl from demo_deferred_ddl order by step desc, drop_ddl loop
    execute statement;
  end loop;
end
$$;

create temp table demo_plan as
with setting as (
  select coalesce(nullif(current_setting('demo.scale', true), ''), '1')::numeric as scale
),
org as (
  select o.*, case o.org_no when 1 then setting.scale else o.fixed_factor end as factor
  from setting,
    (values
      (1, '00000000-0000-4000-8000-000000000001'::uuid, 'Acme Gas Co', 'acme-gas', 'ACM', 'US', 'USD',
        'America/Chicago', 'Welcome to Acme', 1.0),
      (2, '00000000-0000-4000-8000-000000000002'::uuid, 'Bluewater Welding', 'bluewater-welding', 'BLU', 'CA',
        'CAD', 'America/Toronto', 'Bienvenue chez Bluewater — ¡Hola! 👋', 0.125),
      (3, '00000000-0000-4000-8000-000000000003'::uuid, 'Cedar Medical Supply', 'cedar-medical', 'CED', 'DE',
        'EUR', 'Europe/Berlin', E'Grüß Gott\tund "willkommen"', 0.05)
    ) as o(org_no, org_id, name, slug, prefix, country_code, currency, tz, greeting, fixed_factor)
)
select org.org_no, org.org_id, org.name, org.slug, org.prefix, org.country_code, org.currency, org.tz,
  org.greeting,
  -- Base counts are the large organization's at scale 1; every table has at least 3 rows per
  -- organization so that the awkward rows exist everywhere.
  greatest(3, round(100 * org.factor))::integer as n_profiles,
  greatest(3, round(1500 * org.factor))::integer as n_customers,
  greatest(3, round(40 * org.factor))::integer as n_locations,
  greatest(3, round(12 * org.factor))::integer as n_gas_types,
  greatest(3, round(12000 * org.factor))::integer as n_bottles,
  greatest(3, round(4000 * org.factor))::integer as n_rentals,
  greatest(3, round(3000 * org.factor))::integer as n_invoices,
  greatest(3, round(2000 * org.factor))::integer as n_deliveries,
  greatest(3, round(3000 * org.factor))::integer as n_notifications,
  greatest(3, round(15000 * org.factor))::integer as n_audit_logs,
  greatest(3, round(500 * org.factor))::integer as n_tickets,
  greatest(3, round(20000 * org.factor))::integer as n_fills,
  greatest(3, round(40000 * org.factor))::integer as n_scans,
  greatest(3, round(100 * org.factor))::integer as n_invites,
  least(greatest(3, round(1500 * org.factor)), greatest(3, round(12000 * org.factor)))::integer
    as n_valued_bottles,
  greatest(3, round(10 * org.factor))::integer as n_join_codes,
  greatest(3, round(500 * org.factor))::integer as n_customer_support,
  greatest(3, round(600 * org.factor))::integer as n_verifications,
  greatest(3, round(1500 * org.factor))::integer as n_sales_orders,
  least(greatest(3, round(400 * org.factor)), greatest(3, round(1500 * org.factor)))::integer
    as n_verified_orders
from org;

-- Global tables -----------------------------------------------------------------------------------------

insert into countries (code, name, calling_code) values
  ('US', 'United States', '+1'),
  ('CA', 'Canada', '+1'),
  ('DE', 'Deutschland', '+49'),
  ('FR', 'France', '+33'),
  ('BR', 'Brasil', '+55'),
  ('JP', '日本', '+81'),
  ('CI', 'Côte d’Ivoire', '+225'),
  ('AQ', 'Antarctica', null);

insert into gas_catalog (formula, name, molar_mass, hazard_classes) values
  ('O2', 'Oxygen', 31.998, '{oxidizer}'),
  ('N2', 'Nitrogen', 28.014, '{asphyxiant}'),
  ('Ar', 'Argon', 39.948, '{asphyxiant}'),
  ('CO2', 'Carbon dioxide', 44.009, '{asphyxiant}'),
  ('He', 'Helium', 4.0026, '{}'),
  ('C2H2', 'Acetylene', 26.038, '{flammable,"unstable, dissolved"}'),
  ('H2', 'Hydrogen', 2.016, '{flammable}'),
  ('N2O', 'Nitrous oxide', 44.013, '{oxidizer}'),
  ('C3H8', 'Propane', 44.097, '{flammable}'),
  ('Ar/CO2', 'Argon/CO2 82/18 mix', null, '{asphyxiant}'),
  ('AIR-MED', 'Medical air', 28.96, '{}'),
  ('SF6', 'Sulfur hexafluoride', 146.06, '{asphyxiant,"greenhouse \"potent\""}');

-- Tenant tables, parents first ---------------------------------------------------------------------------

insert into organizations (id, name, slug, country_code, settings, logo, created_at)
select p.org_id, p.name, p.slug, p.country_code,
  jsonb_build_object('timezone', p.tz, 'currency', p.currency, 'greeting', p.greeting,
    'features', jsonb_build_object('backups', true, 'max_bottles', 9007199254740993)),
  case p.org_no when 1 then '\x89504e470d0a1a0a0000000d49484452'::bytea end,
  timestamptz '2023-01-01 09:00:00+00' + p.org_no * interval '86400 seconds'
from demo_plan p
order by p.org_no;

insert into profiles (id, organization_id, role, email, full_name, avatar_url, last_seen_at, created_at)
select pg_temp.demo_uuid('profile', p.org_no, g.i), p.org_id,
  case when g.i = 1 then 'owner' when g.i <= 3 then 'admin' else 'member' end,
  'user' || g.i || '@' || p.slug || '.example',
  case
    when g.i = 2 then 'Zoë Ørsted-Núñez 🧑‍🔧'
    when g.i % 17 = 0 then null
    when g.i % 23 = 0 then ''
    else (array['Ana', 'Bjørn', 'Chloé', 'Dmitri', 'Émile', 'Fatima', 'Grace', 'Hiroshi', 'Ifeoma', 'José',
      'Łukasz', 'Søren'])[1 + pg_temp.demo_rnd(p.org_no, g.i, 1, 12)]
      || ' ' || (array['Øberg', 'Núñez', 'O''Brien', 'Smith', 'Müller', 'Nakamura', 'Zhang 张', 'Dubois',
      'Kowalski', 'Okafor'])[1 + pg_temp.demo_rnd(p.org_no, g.i, 2, 10)]
  end,
  case when g.i % 3 = 0 then 'https://cdn.example/avatars/' || p.slug || '/' || g.i || '.png' end,
  case when g.i % 5 <> 0 then
    timestamptz '2025-06-01 00:00:00+00' - pg_temp.demo_rnd(p.org_no, g.i, 3, 8640000) * interval '1 second'
  end,
  timestamptz '2023-01-01 00:00:00+00' + pg_temp.demo_rnd(p.org_no, g.i, 4, 31536000) * interval '1 second'
from demo_plan p cross join lateral generate_series(1, p.n_profiles) as g(i)
order by g.i, p.org_no;

insert into customers (id, organization_id, name, email, phone, billing_address, tags, credit_limit,
  external_ref, notes, created_at)
select pg_temp.demo_uuid('customer', p.org_no, g.i), p.org_id,
  case g.i
    when 1 then 'Zoë''s Café & Welding 🔥🚀'
    when 2 then E'Tab\there, newline\nthere, CRLF\r\nback\\slash "double" ''single'''
    when 3 then '\N'
    when 4 then 'NULL'
    when 5 then E'Combining ma\u0301rks, RTL שלום, zero\u200bwidth, line\u2028separator'
    else (array['Northwind', 'Globex', 'Initech', 'Umbrella', 'Hooli', 'Stark', 'Wayne', 'Tyrell',
      'Soylent', 'Vandelay'])[1 + pg_temp.demo_rnd(p.org_no, g.i, 5, 10)]
      || ' ' || (array['Welding', 'Brewing', 'Clinic', 'Labs', 'Diving', 'Catering', 'Fabrication',
      'Hospital'])[1 + pg_temp.demo_rnd(p.org_no, g.i, 6, 8)] || ' #' || g.i
  end,
  case when g.i % 7 <> 0 then 'billing+' || g.i || '@customer.' || p.slug || '.example' end,
  case g.i % 5
    when 0 then ''
    when 1 then null
    else '+1-555-' || lpad(pg_temp.demo_rnd(p.org_no, g.i, 7, 10000)::text, 4, '0')
  end,
  case
    when g.i = 1 then '{"street": "1 Rue de l''Église", "city": "Québec", "geo": {"lat": 46.8139, "lng": -71.208},
      "lines": ["a\"b", "c\\d", "tab\there"], "empty": {}, "nothing": null}'::jsonb
    when g.i % 9 = 0 then null
    else jsonb_build_object('street', g.i || ' Main St',
      'city', (array['Springfield', 'Montréal', 'München', 'São Paulo', 'Ōsaka'])[1 + pg_temp.demo_rnd(p.org_no, g.i, 8, 5)],
      'zip', lpad(pg_temp.demo_rnd(p.org_no, g.i, 9, 100000)::text, 5, '0'),
      'geo', jsonb_build_object('lat', pg_temp.demo_rnd(p.org_no, g.i, 10, 18000) / 100.0 - 90,
        'lng', pg_temp.demo_rnd(p.org_no, g.i, 11, 36000) / 100.0 - 180))
  end,
  case g.i
    when 1 then array['a,b', 'say "hi"', null, '', 'back\slash', '{braces}', 'NULL', ' padded ']
    when 2 then '{}'::text[]
    when 3 then array[null, null]::text[]
    else array['tier-' || pg_temp.demo_rnd(p.org_no, g.i, 12, 3), 'region-' || g.i % 4]
  end,
  case
    when g.i = 3 then 9999999999.99
    when g.i = 4 then -0.01
    when g.i % 11 = 0 then null
    else pg_temp.demo_rnd(p.org_no, g.i, 13, 5000000) / 100.0
  end,
  case g.i
    when 1 then 9007199254740993
    when 2 then -9223372036854775808
    when 3 then 9223372036854775807
    when 4 then 9007199254740992
    else 1000000 + g.i
  end,
  case
    when g.i = 1 then E'Multi-line\nnote with a trailing backslash \\'
    when g.i % 4 = 0 then ''
    when g.i % 4 = 1 then null
    else 'Account since ' || (2000 + g.i % 25)
  end,
  timestamptz '2023-01-01 00:00:00+00' + pg_temp.demo_rnd(p.org_no, g.i, 14, 63072000) * interval '1 second'
from demo_plan p cross join lateral generate_series(1, p.n_customers) as g(i)
order by g.i, p.org_no;

insert into locations (id, organization_id, parent_id, code, name, country_code, latitude, longitude,
  opening_hours)
overriding system value
select pg_temp.demo_id(p.org_no, g.i), p.org_id,
  -- Locations after the first five are bays inside one of the first five depots.
  case when g.i > 5 then pg_temp.demo_id(p.org_no, 1 + g.i % 5) end,
  'LOC-' || lpad(g.i::text, 4, '0'),
  case g.i
    when 1 then 'Main depot'
    when 2 then 'Dépôt «Nord» – Halle 2'
    else 'Bay ' || g.i
  end,
  (array['US', 'CA', 'DE', 'FR', 'BR', 'JP', 'CI'])[1 + (g.i + p.org_no) % 7],
  case when g.i = 3 then null else pg_temp.demo_rnd(p.org_no, g.i, 20, 1800000) / 10000.0 - 90 end,
  case when g.i = 3 then null else pg_temp.demo_rnd(p.org_no, g.i, 21, 3600000) / 10000.0 - 180 end,
  case
    when g.i % 4 = 0 then null
    else jsonb_build_object('mon', jsonb_build_array('07:00', '17:00'), 'sat', null, 'note', 'closed on holidays')
  end
from demo_plan p cross join lateral generate_series(1, p.n_locations) as g(i)
order by g.i, p.org_no;

insert into gas_types (id, organization_id, gas_catalog_id, name, purity_percent, price_per_m3, color_code)
select pg_temp.demo_id(p.org_no, g.i), p.org_id, c.id,
  c.name || case when g.i > c.total then ' grade ' || ((g.i - 1) / c.total + 1) else '' end,
  case g.i when 1 then 99.9999 when 2 then null else 95 + pg_temp.demo_rnd(p.org_no, g.i, 22, 50000) / 10000.0 end,
  (100 + pg_temp.demo_rnd(p.org_no, g.i, 23, 90000)) / 100.0,
  case when g.i % 3 = 0 then '' else '#' || lpad(to_hex(pg_temp.demo_rnd(p.org_no, g.i, 24, 16777216)), 6, '0') end
from demo_plan p cross join lateral generate_series(1, p.n_gas_types) as g(i)
join (select row_number() over (order by id) as n, count(*) over () as total, id, name from gas_catalog) as c
  on c.n = 1 + (g.i - 1) % c.total
order by g.i, p.org_no;

insert into bottles (id, organization_id, serial_number, barcode, gas_type_id, location_id, customer_id,
  status, capacity_liters, tare_weight_kg, manufactured_on, last_inspected_on, inspection_interval, created_at)
select pg_temp.demo_uuid('bottle', p.org_no, g.i), p.org_id,
  p.prefix || '-' || lpad(g.i::text, 7, '0'),
  case
    when g.i = 1 then '\x00ff00fe0000'::bytea
    when g.i = 2 then ''::bytea
    when g.i % 10 = 0 then null
    else int8send(g.i::bigint * 1000003)
  end,
  pg_temp.demo_id(p.org_no, 1 + pg_temp.demo_rnd(p.org_no, g.i, 30, p.n_gas_types)),
  case when g.i % 13 <> 0 then pg_temp.demo_id(p.org_no, 1 + pg_temp.demo_rnd(p.org_no, g.i, 31, p.n_locations)) end,
  case when s.status = 'rented' then
    pg_temp.demo_uuid('customer', p.org_no, 1 + pg_temp.demo_rnd(p.org_no, g.i, 32, p.n_customers))
  end,
  s.status,
  (array[10, 20, 40, 50.5])[1 + pg_temp.demo_rnd(p.org_no, g.i, 33, 4)],
  case g.i
    when 1 then 'NaN'::float8
    when 2 then 'Infinity'::float8
    when 3 then '-Infinity'::float8
    when 4 then '-0'::float8
    when 5 then 0.1::float8 + 0.2::float8
    else (100 + pg_temp.demo_rnd(p.org_no, g.i, 34, 600)) / 10.0::float8
  end,
  date '2005-01-01' + pg_temp.demo_rnd(p.org_no, g.i, 35, 6000),
  case when g.i % 8 <> 0 then date '2023-01-01' + pg_temp.demo_rnd(p.org_no, g.i, 36, 900) end,
  case g.i
    when 1 then interval '1 year 2 mons 3 days 04:05:06.789'
    when 2 then interval '-1 days +02:03:04'
    when 3 then interval '00:00:00.000001'
    else interval '5 years'
  end,
  timestamptz '2022-01-01 00:00:00+00' + pg_temp.demo_rnd(p.org_no, g.i, 37, 94608000) * interval '1 second'
from demo_plan p cross join lateral generate_series(1, p.n_bottles) as g(i)
cross join lateral (
  select (array['in_stock', 'rented', 'rented', 'rented', 'in_transit', 'maintenance', 'retired',
    'lost']::bottle_status[])[1 + pg_temp.demo_rnd(p.org_no, g.i, 38, 8)] as status
) as s
order by g.i, p.org_no;

insert into rentals (id, organization_id, bottle_id, customer_id, started_at, ended_at, daily_rate, deposit,
  billing_period)
select pg_temp.demo_id(p.org_no, g.i), p.org_id,
  pg_temp.demo_uuid('bottle', p.org_no, 1 + pg_temp.demo_rnd(p.org_no, g.i, 40, p.n_bottles)),
  pg_temp.demo_uuid('customer', p.org_no, 1 + pg_temp.demo_rnd(p.org_no, g.i, 41, p.n_customers)),
  t.started_at,
  case when g.i % 4 <> 0 then
    t.started_at + (1 + pg_temp.demo_rnd(p.org_no, g.i, 42, 180)) * interval '86400 seconds'
  end,
  (150 + pg_temp.demo_rnd(p.org_no, g.i, 43, 2000)) / 100.0,
  case when g.i % 6 <> 0 then 50 + pg_temp.demo_rnd(p.org_no, g.i, 44, 5) * 25 end,
  case when g.i % 10 = 0 then interval '7 days' else interval '1 mon' end
from demo_plan p cross join lateral generate_series(1, p.n_rentals) as g(i)
cross join lateral (
  select timestamptz '2024-01-01 00:00:00+00'
    + pg_temp.demo_rnd(p.org_no, g.i, 45, 47304000) * interval '1 second' as started_at
) as t
order by g.i, p.org_no;

insert into rental_invoices (id, organization_id, customer_id, rental_id, invoice_number, issued_on, due_on,
  currency, paid, pdf, metadata)
overriding system value
select pg_temp.demo_invoice_id(p.org_no, g.i, p.n_invoices), p.org_id, r.customer_id,
  case when g.i % 50 <> 0 then r.id end,
  p.prefix || '-INV-' || lpad(g.i::text, 7, '0'),
  d.issued_on, d.issued_on + 30,
  case when g.i % 20 = 0 then 'EUR' else p.currency end,
  g.i % 3 <> 0,
  case when g.i % 25 = 0 then convert_to('%PDF-1.7 ', 'UTF8') || '\x000102fffe00'::bytea || int8send(g.i) end,
  case
    when g.i = 1 then '{"source": "import", "legacy": {"id": 9007199254740993, "amount": 12345678901234567890.0123456789,
      "flags": [true, false, null], "note": "line\nbreak \"quoted\" \\ back"}}'::jsonb
    when g.i = 2 then 'null'::jsonb
    when g.i % 4 = 0 then null
    else jsonb_build_object('source', 'billing-run', 'run', g.i / 100)
  end
from demo_plan p cross join lateral generate_series(1, p.n_invoices) as g(i)
join rentals as r on r.id = pg_temp.demo_id(p.org_no, 1 + (g.i - 1) % p.n_rentals)
cross join lateral (select date '2024-01-15' + pg_temp.demo_rnd(p.org_no, g.i, 50, 700) as issued_on) as d
order by g.i, p.org_no;

insert into invoice_line_items (invoice_id, position, description, quantity, unit_price, tax_rate)
select ri.id, k.pos,
  case
    when ri.id > 9007199254740990 and k.pos = 1 then E'Rental with a \t tab, a \\N and émoji 🧪'
    else (array['Cylinder rental', 'Delivery fee', 'Hazmat surcharge'])[k.pos]
  end,
  case k.pos
    when 1 then (1000 + pg_temp.demo_rnd(0, ri.id, 52, 30000)) / 1000.0
    else 1
  end,
  case k.pos
    when 1 then (150 + pg_temp.demo_rnd(0, ri.id, 53, 2000)) / 100.0
    when 2 then 25.00
    else 7.50
  end,
  case
    when ri.id % 7 = 0 then null
    when ri.id % 7 = 1 then 0.1::float8 + 0.2::float8
    else 0.0825::float8
  end
from rental_invoices as ri
cross join lateral generate_series(1, 1 + pg_temp.demo_rnd(0, ri.id, 51, 3)) as k(pos)
order by ri.id, k.pos;

update rental_invoices as ri set total = s.total
from (select invoice_id, sum(line_total) as total from invoice_line_items group by invoice_id) as s
where s.invoice_id = ri.id;

insert into deliveries (id, organization_id, customer_id, location_id, driver_id, scheduled_for, window_start,
  delivered_at, route_duration, bottle_serials, signature, driver_notes)
select pg_temp.demo_uuid('delivery', p.org_no, g.i), p.org_id,
  pg_temp.demo_uuid('customer', p.org_no, 1 + pg_temp.demo_rnd(p.org_no, g.i, 60, p.n_customers)),
  case when g.i % 11 <> 0 then pg_temp.demo_id(p.org_no, 1 + pg_temp.demo_rnd(p.org_no, g.i, 61, p.n_locations)) end,
  case when g.i % 9 <> 0 then
    pg_temp.demo_uuid('profile', p.org_no, 1 + pg_temp.demo_rnd(p.org_no, g.i, 62, p.n_profiles))
  end,
  d.scheduled_for,
  case when g.i % 8 <> 0 then time '07:00' + pg_temp.demo_rnd(p.org_no, g.i, 63, 40) * interval '15 minutes' end,
  case when g.i % 5 <> 0 then
    (d.scheduled_for + time '08:00') at time zone 'UTC'
      + pg_temp.demo_rnd(p.org_no, g.i, 64, 36000) * interval '1 second'
  end,
  case g.i
    when 1 then interval '1 year 2 mons 3 days 04:05:06.789'
    when 2 then interval '-1 days +02:03:04'
    when 3 then null
    else pg_temp.demo_rnd(p.org_no, g.i, 65, 300) * interval '1 minute'
  end,
  case
    when g.i = 1 then array[p.prefix || '-0000001', null, 'with,comma', 'with "quote"', E'back\\slash']
    when g.i % 7 = 0 then null
    else array[
      p.prefix || '-' || lpad((1 + pg_temp.demo_rnd(p.org_no, g.i, 66, p.n_bottles))::text, 7, '0'),
      p.prefix || '-' || lpad((1 + pg_temp.demo_rnd(p.org_no, g.i, 67, p.n_bottles))::text, 7, '0')]
  end,
  case
    when g.i = 2 then ''::bytea
    when g.i % 4 = 0 then null
    else '\x0000'::bytea || int4send(g.i) || '\x00'::bytea
  end,
  case
    when g.i = 1 then E'Ring twice.\nGate code: 1234\tthen "left"\\right'
    when g.i % 6 = 0 then ''
    when g.i % 6 = 1 then null
    else 'Leave at dock ' || g.i % 5
  end
from demo_plan p cross join lateral generate_series(1, p.n_deliveries) as g(i)
cross join lateral (select date '2024-01-01' + pg_temp.demo_rnd(p.org_no, g.i, 68, 730) as scheduled_for) as d
order by g.i, p.org_no;

insert into notifications (organization_id, profile_id, kind, title, payload, read_at, created_at)
select p.org_id,
  pg_temp.demo_uuid('profile', p.org_no, 1 + pg_temp.demo_rnd(p.org_no, g.i, 70, p.n_profiles)),
  (array['rental_due', 'delivery_scheduled', 'invoice_paid', 'ticket_reply',
    'fill_failed'])[1 + pg_temp.demo_rnd(p.org_no, g.i, 71, 5)],
  case g.i when 1 then '🔔 Rappel : facture « en retard »' else 'Notification ' || g.i end,
  case
    when g.i = 1 then '{"nested": {"deep": {"deeper": [1, 2, {"x": null}]}}, "big": 12345678901234567890123}'::jsonb
    else jsonb_build_object('ref', g.i, 'org', p.slug)
  end,
  case when g.i % 3 <> 0 then c.created_at + pg_temp.demo_rnd(p.org_no, g.i, 72, 604800) * interval '1 second' end,
  c.created_at
from demo_plan p cross join lateral generate_series(1, p.n_notifications) as g(i)
cross join lateral (
  select timestamptz '2024-01-01 00:00:00+00'
    + pg_temp.demo_rnd(p.org_no, g.i, 73, 47304000) * interval '1 second' as created_at
) as c
order by g.i, p.org_no;

insert into audit_logs (organization_id, actor_id, action, entity_type, entity_id, changes, ip_address,
  user_agent, created_at)
select p.org_id,
  case when g.i % 10 <> 0 then
    pg_temp.demo_uuid('profile', p.org_no, 1 + pg_temp.demo_rnd(p.org_no, g.i, 80, p.n_profiles))
  end,
  (array['insert', 'update', 'delete', 'login', 'export'])[1 + pg_temp.demo_rnd(p.org_no, g.i, 81, 5)],
  (array['bottle', 'customer', 'rental', 'invoice', 'profile'])[1 + pg_temp.demo_rnd(p.org_no, g.i, 82, 5)],
  case when g.i % 15 <> 0 then
    pg_temp.demo_uuid('bottle', p.org_no, 1 + pg_temp.demo_rnd(p.org_no, g.i, 83, p.n_bottles))::text
  end,
  case
    when g.i = 1 then '{"before": {"credit_limit": "1000.00", "tags": ["a", "b"]},
      "after": {"credit_limit": 123456789012345678901234567890.123456789, "tags": null},
      "ids": [9007199254740993, -9223372036854775808], "float": 1.5e300, "unicode": "naïve ☃ 𝄞",
      "escaped": "tab\tnewline\nquote\"backslash\\"}'::jsonb
    when g.i = 2 then '[]'::jsonb
    -- JSON null, which is not SQL NULL.
    when g.i = 3 then 'null'::jsonb
    when g.i = 4 then '"just a string"'::jsonb
    when g.i % 5 = 0 then null
    else jsonb_build_object('field', 'status', 'from', 'in_stock', 'to', 'rented', 'n', g.i)
  end,
  case
    when g.i % 7 = 0 then null
    when g.i % 2 = 0 then ('10.' || (g.i / 65536) % 256 || '.' || (g.i / 256) % 256 || '.' || g.i % 256)::inet
    else ('2001:db8::' || to_hex(g.i / 65536) || ':' || to_hex(g.i % 65536))::inet
  end,
  case
    when g.i % 6 = 0 then null
    when g.i % 6 = 1 then ''
    else 'Mozilla/5.0 (X11; Linux x86_64) Demo/' || g.i % 100
  end,
  timestamptz '2024-01-01 00:00:00+00' + pg_temp.demo_rnd(p.org_no, g.i, 84, 47304000) * interval '1 second'
from demo_plan p cross join lateral generate_series(1, p.n_audit_logs) as g(i)
order by g.i, p.org_no;

insert into support_tickets (id, organization_id, customer_id, opened_by, subject, status, priority, tags,
  created_at, closed_at)
select pg_temp.demo_uuid('ticket', p.org_no, g.i), p.org_id,
  case when g.i % 9 <> 0 then
    pg_temp.demo_uuid('customer', p.org_no, 1 + pg_temp.demo_rnd(p.org_no, g.i, 90, p.n_customers))
  end,
  case when g.i % 5 <> 0 then
    pg_temp.demo_uuid('profile', p.org_no, 1 + pg_temp.demo_rnd(p.org_no, g.i, 91, p.n_profiles))
  end,
  case g.i
    when 1 then E'Valve "stuck" \\ can''t open – urgent ⚠️'
    when 2 then ''
    else 'Ticket ' || g.i || ': ' || (array['leaking valve', 'late delivery', 'invoice question',
      'wrong gas'])[1 + pg_temp.demo_rnd(p.org_no, g.i, 92, 4)]
  end,
  s.status,
  1 + pg_temp.demo_rnd(p.org_no, g.i, 93, 5),
  case
    when g.i = 1 then array[null]::text[]
    when g.i % 4 = 0 then null
    else array['billing', 'p' || pg_temp.demo_rnd(p.org_no, g.i, 94, 3)]
  end,
  c.created_at,
  case when s.status = 'closed' then
    c.created_at + pg_temp.demo_rnd(p.org_no, g.i, 95, 1209600) * interval '1 second'
  end
from demo_plan p cross join lateral generate_series(1, p.n_tickets) as g(i)
cross join lateral (
  select (array['open', 'pending', 'closed', 'closed'])[1 + pg_temp.demo_rnd(p.org_no, g.i, 96, 4)] as status
) as s
cross join lateral (
  select timestamptz '2024-01-01 00:00:00+00'
    + pg_temp.demo_rnd(p.org_no, g.i, 97, 40000000) * interval '1 second' as created_at
) as c
order by g.i, p.org_no;

-- Ids are numbered here so that each message can reply to the previous one of its ticket in the same
-- statement (the self-reference is checked at the end of the statement).
insert into support_ticket_messages (id, ticket_id, reply_to_id, author_id, body, attachment, is_internal,
  sent_at)
select m.id, m.ticket_id, case when m.k > 1 and m.k % 3 <> 0 then m.id - 1 end,
  m.author_id, m.body, m.attachment, m.is_internal, m.sent_at
from (
  select row_number() over (order by g.i, p.org_no, k.k) as id, k.k,
    pg_temp.demo_uuid('ticket', p.org_no, g.i) as ticket_id,
    -- Odd messages come from the customer by e-mail and have no author profile.
    case when k.k % 2 = 0 then
      pg_temp.demo_uuid('profile', p.org_no, 1 + pg_temp.demo_rnd(p.org_no, g.i * 8 + k.k, 98, p.n_profiles))
    end as author_id,
    case
      when g.i = 1 and k.k = 1 then
        E'Hello,\n\n\tthe valve says "ERR\\42" and it''s leaking 💨\r\n-- \nSent from my phone'
      when g.i = 1 and k.k = 2 then ''
      else 'Message ' || k.k || ' on ticket ' || g.i
    end as body,
    case when (g.i + k.k) % 20 = 0 then '\x255044462d00000000ff'::bytea end as attachment,
    k.k % 5 = 0 as is_internal,
    timestamptz '2024-01-01 00:00:00+00'
      + (pg_temp.demo_rnd(p.org_no, g.i, 97, 40000000) + k.k * 3600) * interval '1 second' as sent_at
  from demo_plan p cross join lateral generate_series(1, p.n_tickets) as g(i)
  cross join lateral generate_series(1, 1 + pg_temp.demo_rnd(p.org_no, g.i, 99, 7)) as k(k)
) as m
order by m.id;

insert into cylinder_fills (organization_id, bottle_id, gas_type_id, filled_by, filled_at, pressure_bar,
  volume_m3, temperature_c, batch_number, passed_check)
select p.org_id,
  pg_temp.demo_uuid('bottle', p.org_no, 1 + pg_temp.demo_rnd(p.org_no, g.i, 100, p.n_bottles)),
  pg_temp.demo_id(p.org_no, 1 + pg_temp.demo_rnd(p.org_no, g.i, 101, p.n_gas_types)),
  case when g.i % 12 <> 0 then
    pg_temp.demo_uuid('profile', p.org_no, 1 + pg_temp.demo_rnd(p.org_no, g.i, 102, p.n_profiles))
  end,
  timestamptz '2024-01-01 00:00:00+00' + pg_temp.demo_rnd(p.org_no, g.i, 103, 47304000) * interval '1 second',
  case g.i
    when 1 then 'NaN'::float8
    when 2 then 'Infinity'::float8
    when 3 then '-Infinity'::float8
    when 4 then '-0'::float8
    when 5 then '4.9e-324'::float8
    when 6 then '1.7976931348623157e308'::float8
    else (1500 + pg_temp.demo_rnd(p.org_no, g.i, 104, 1500)) / 10.0::float8
  end,
  case when g.i % 10 <> 0 then pg_temp.demo_rnd(p.org_no, g.i, 105, 1000000) / 1000.0 end,
  case when g.i % 10 <> 1 then (pg_temp.demo_rnd(p.org_no, g.i, 106, 400) / 7.0 - 20)::real end,
  case g.i
    when 1 then 9223372036854775807
    when 2 then 9007199254740993
    when 3 then -1
    else 20240000 + g.i / 50
  end,
  case g.i % 10 when 0 then null when 1 then false else true end
from demo_plan p cross join lateral generate_series(1, p.n_fills) as g(i)
order by g.i, p.org_no;

insert into bottle_scans (organization_id, bottle_id, location_id, scanned_by, scanned_at, latitude,
  longitude, scan_type, raw_payload)
select p.org_id,
  pg_temp.demo_uuid('bottle', p.org_no, 1 + pg_temp.demo_rnd(p.org_no, g.i, 110, p.n_bottles)),
  case when g.i % 6 <> 0 then pg_temp.demo_id(p.org_no, 1 + pg_temp.demo_rnd(p.org_no, g.i, 111, p.n_locations)) end,
  case when g.i % 4 <> 0 then
    pg_temp.demo_uuid('profile', p.org_no, 1 + pg_temp.demo_rnd(p.org_no, g.i, 112, p.n_profiles))
  end,
  timestamptz '2024-01-01 00:00:00+00' + pg_temp.demo_rnd(p.org_no, g.i, 113, 47304000) * interval '1 second',
  case g.i
    when 1 then 'NaN'::float8
    when 2 then null
    else pg_temp.demo_rnd(p.org_no, g.i, 114, 1800000) / 10000.0::float8 - 90
  end,
  case g.i
    when 1 then 'Infinity'::float8
    when 2 then null
    else pg_temp.demo_rnd(p.org_no, g.i, 115, 3600000) / 10000.0::float8 - 180
  end,
  (array['checkout', 'checkin', 'fill', 'inspection', 'delivery'])[1 + pg_temp.demo_rnd(p.org_no, g.i, 116, 5)],
  case
    when g.i = 1 then '\x00'::bytea
    when g.i % 3 = 0 then null
    else convert_to(p.prefix || ':' || g.i, 'UTF8') || '\x00'::bytea
  end
from demo_plan p cross join lateral generate_series(1, p.n_scans) as g(i)
order by g.i, p.org_no;

insert into user_invites (id, organization_id, email, role, token, invited_by, expires_at, accepted_at)
select pg_temp.demo_uuid('invite', p.org_no, g.i), p.org_id,
  case g.i when 1 then 'ÜBER.user+tag@exämple.com' else 'invitee' || g.i || '@' || p.slug || '.example' end,
  case when g.i % 5 = 0 then 'admin' else 'member' end,
  md5('token/' || p.org_no || '/' || g.i),
  case when g.i % 7 <> 0 then
    pg_temp.demo_uuid('profile', p.org_no, 1 + pg_temp.demo_rnd(p.org_no, g.i, 120, p.n_profiles))
  end,
  case g.i
    when 1 then 'infinity'::timestamptz
    when 2 then '-infinity'::timestamptz
    else c.created_at + interval '604800 seconds'
  end,
  case when g.i % 3 = 0 then c.created_at + pg_temp.demo_rnd(p.org_no, g.i, 121, 86400) * interval '1 second' end
from demo_plan p cross join lateral generate_series(1, p.n_invites) as g(i)
cross join lateral (
  select timestamptz '2024-01-01 00:00:00+00'
    + pg_temp.demo_rnd(p.org_no, g.i, 122, 47304000) * interval '1 second' as created_at
) as c
order by g.i, p.org_no;

insert into ownership_values (organization_id, bottle_id, valued_on, value, depreciation_rate, method)
select p.org_id, pg_temp.demo_uuid('bottle', p.org_no, g.i), v.valued_on,
  case
    when g.i = 1 and v.n = 1 then 9999999999.99
    when g.i = 2 and v.n = 1 then -0.01
    when g.i = 3 then 0
    else round((10000 + pg_temp.demo_rnd(p.org_no, g.i, 130, 90000)) / 100.0 * (1.1 - 0.1 * v.n), 2)
  end,
  case when g.i = 1 then 1::float8 / 3 when g.i % 5 = 0 then null else 0.1::float8 end,
  case g.i % 4 when 0 then null when 1 then '' else 'straight-line' end
from demo_plan p cross join lateral generate_series(1, p.n_valued_bottles) as g(i)
cross join (values (1, date '2024-01-01'), (2, date '2025-01-01')) as v(n, valued_on)
order by g.i, p.org_no, v.n;

insert into organization_join_codes (code, organization_id, role, max_uses, use_count, created_by, expires_at)
select
  case
    when g.i = 1 then p.prefix || '-ÉTÉ-2025'
    else p.prefix || '-' || upper(substr(md5('join/' || p.org_no || '/' || g.i), 1, 8))
  end,
  p.org_id,
  case when g.i % 4 = 0 then 'admin' else 'member' end,
  case when g.i % 3 <> 0 then 10 * g.i end,
  g.i % 7,
  case when g.i % 5 <> 0 then
    pg_temp.demo_uuid('profile', p.org_no, 1 + pg_temp.demo_rnd(p.org_no, g.i, 140, p.n_profiles))
  end,
  case when g.i % 4 <> 0 then timestamptz '2026-01-01 00:00:00+00' + g.i * interval '3600 seconds' end
from demo_plan p cross join lateral generate_series(1, p.n_join_codes) as g(i)
order by g.i, p.org_no;

insert into customer_support (organization_id, customer_id, assigned_to, plan, response_time, hours_per_month,
  active, notes)
select p.org_id,
  pg_temp.demo_uuid('customer', p.org_no, 1 + (g.i - 1) % p.n_customers),
  case when g.i % 6 <> 0 then
    pg_temp.demo_uuid('profile', p.org_no, 1 + pg_temp.demo_rnd(p.org_no, g.i, 150, p.n_profiles))
  end,
  (array['basic', 'priority', 'enterprise'])[1 + pg_temp.demo_rnd(p.org_no, g.i, 151, 3)],
  case g.i
    when 1 then interval '1 year 2 mons 3 days 04:05:06.789'
    when 2 then null
    else (1 + pg_temp.demo_rnd(p.org_no, g.i, 152, 48)) * interval '1 hour'
  end,
  case g.i
    when 1 then 123456789012345678901234567890.123456789012345678901234567890
    when 2 then 'NaN'::numeric
    when 3 then 0.000000000000000000000000000001
    when 4 then null
    when 5 then 'Infinity'::numeric
    when 6 then '-Infinity'::numeric
    else pg_temp.demo_rnd(p.org_no, g.i, 153, 4000) / 10.0
  end,
  g.i % 6 <> 0,
  case
    when g.i = 1 then E'Escalate to "Tier 2"\\Night shift\n\t– ask for Zoë'
    when g.i % 3 = 0 then ''
    when g.i % 3 = 1 then null
    else 'SLA reviewed ' || (2020 + g.i % 6)
  end
from demo_plan p cross join lateral generate_series(1, p.n_customer_support) as g(i)
order by g.i, p.org_no;

insert into verification_requests (id, organization_id, customer_id, requested_by, kind, document, status,
  submitted_at, reviewed_at, reviewer_notes)
select pg_temp.demo_uuid('verification', p.org_no, g.i), p.org_id,
  pg_temp.demo_uuid('customer', p.org_no, 1 + pg_temp.demo_rnd(p.org_no, g.i, 160, p.n_customers)),
  case when g.i % 8 <> 0 then
    pg_temp.demo_uuid('profile', p.org_no, 1 + pg_temp.demo_rnd(p.org_no, g.i, 161, p.n_profiles))
  end,
  (array['id_document', 'hazmat_license', 'tax_exemption'])[1 + pg_temp.demo_rnd(p.org_no, g.i, 162, 3)],
  case
    when g.i = 1 then '\x0000000000'::bytea
    when g.i = 2 then ''::bytea
    when g.i % 3 = 0 then null
    else decode(md5('doc/' || p.org_no || '/' || g.i), 'hex') || '\x00'::bytea
  end,
  s.status,
  c.submitted_at,
  case when s.status <> 'pending' then
    c.submitted_at + pg_temp.demo_rnd(p.org_no, g.i, 163, 604800) * interval '1 second'
  end,
  case
    when s.status = 'rejected' then E'Blurry scan;\nplease re-upload "page 2"'
    when s.status = 'approved' then ''
  end
from demo_plan p cross join lateral generate_series(1, p.n_verifications) as g(i)
cross join lateral (
  select (array['pending', 'approved', 'approved', 'rejected'])[1 + pg_temp.demo_rnd(p.org_no, g.i, 164, 4)]
    as status
) as s
cross join lateral (
  select timestamptz '2024-01-01 00:00:00+00'
    + pg_temp.demo_rnd(p.org_no, g.i, 165, 47304000) * interval '1 second' as submitted_at
) as c
order by g.i, p.org_no;

insert into sales_orders (id, organization_id, customer_id, order_number, ordered_at, status, currency,
  shipping_address, notes)
select pg_temp.demo_uuid('sales_order', p.org_no, g.i), p.org_id,
  pg_temp.demo_uuid('customer', p.org_no, 1 + pg_temp.demo_rnd(p.org_no, g.i, 170, p.n_customers)),
  case g.i when 1 then 9007199254740993 when 2 then 9223372036854775807 else 100000 + g.i end,
  timestamptz '2024-01-01 00:00:00+00' + pg_temp.demo_rnd(p.org_no, g.i, 171, 47304000) * interval '1 second',
  (array['draft', 'confirmed', 'shipped', 'delivered', 'cancelled'])[1 + pg_temp.demo_rnd(p.org_no, g.i, 172, 5)],
  p.currency,
  case
    when g.i = 1 then '{"name": "Zoë \"Z\" O''Brien", "lines": ["Dock 4", ""], "geo": null, "big": 1e-30}'::jsonb
    when g.i % 6 = 0 then null
    else jsonb_build_object('name', 'Receiving', 'lines', jsonb_build_array(g.i || ' Industrial Way'))
  end,
  case when g.i % 5 = 0 then '' when g.i % 5 = 1 then null else 'PO ' || g.i end
from demo_plan p cross join lateral generate_series(1, p.n_sales_orders) as g(i)
order by g.i, p.org_no;

insert into sales_order_items (sales_order_id, gas_type_id, quantity, unit_price, discount)
select pg_temp.demo_uuid('sales_order', p.org_no, g.i),
  case when (g.i + k.k) % 5 <> 0 then
    pg_temp.demo_id(p.org_no, 1 + pg_temp.demo_rnd(p.org_no, g.i * 4 + k.k, 180, p.n_gas_types))
  end,
  1 + pg_temp.demo_rnd(p.org_no, g.i * 4 + k.k, 181, 20),
  (500 + pg_temp.demo_rnd(p.org_no, g.i * 4 + k.k, 182, 20000)) / 100.0,
  case when k.k = 2 then 0.0750 else 0 end
from demo_plan p cross join lateral generate_series(1, p.n_sales_orders) as g(i)
cross join lateral generate_series(1, 1 + pg_temp.demo_rnd(p.org_no, g.i, 183, 3)) as k(k)
order by g.i, p.org_no, k.k;

update sales_orders as so set total = s.total
from (select sales_order_id, sum(line_total) as total from sales_order_items group by sales_order_id) as s
where s.sales_order_id = so.id;

insert into verified_orders (organization_id, sales_order_id, verification_request_id, verified_by, verified_at,
  signature, checks)
select p.org_id, pg_temp.demo_uuid('sales_order', p.org_no, g.i),
  case when g.i % 4 <> 0 then
    pg_temp.demo_uuid('verification', p.org_no, 1 + pg_temp.demo_rnd(p.org_no, g.i, 190, p.n_verifications))
  end,
  case when g.i % 5 <> 0 then
    pg_temp.demo_uuid('profile', p.org_no, 1 + pg_temp.demo_rnd(p.org_no, g.i, 191, p.n_profiles))
  end,
  timestamptz '2024-06-01 00:00:00+00' + pg_temp.demo_rnd(p.org_no, g.i, 192, 31536000) * interval '1 second',
  case when g.i % 3 <> 0 then sha256(convert_to('sig/' || p.org_no || '/' || g.i, 'UTF8')) end,
  case
    when g.i = 1 then '{"address": true, "credit": {"score": 9007199254740993, "ok": null}, "notes": ["", " "]}'::jsonb
    else jsonb_build_object('address', true, 'credit', g.i % 2 = 0)
  end
from demo_plan p cross join lateral generate_series(1, p.n_verified_orders) as g(i)
order by g.i, p.org_no;

-- Indexes first, then foreign keys, as set aside at the top.
do $$
declare
  statement text;
begin
  for statement in select create_ddl from demo_deferred_ddl order by step, create_ddl loop
    execute statement;
  end loop;
end
$$;

drop table demo_deferred_ddl;

-- Rows above were given explicit ids; move the sequences past them as a real app's would be.
select setval(pg_get_serial_sequence('public.locations', 'id'), (select max(id) from locations));
select setval(pg_get_serial_sequence('public.gas_types', 'id'), (select max(id) from gas_types));
select setval(pg_get_serial_sequence('public.rentals', 'id'), (select max(id) from rentals));
select setval(pg_get_serial_sequence('public.rental_invoices', 'id'), (select max(id) from rental_invoices));
select setval(pg_get_serial_sequence('public.support_ticket_messages', 'id'),
  (select max(id) from support_ticket_messages));

drop table demo_plan;
drop function pg_temp.demo_uuid(text, integer, bigint);
drop function pg_temp.demo_rnd(integer, bigint, integer, integer);
drop function pg_temp.demo_id(integer, bigint);
drop function pg_temp.demo_invoice_id(integer, bigint, bigint);

-- Fresh statistics, so that the first backup or restore after an install is planned like a later one.
analyze countries, gas_catalog, organizations, profiles, customers, locations, gas_types, bottles, rentals,
  rental_invoices, invoice_line_items, deliveries, notifications, audit_logs, support_tickets,
  support_ticket_messages, cylinder_fills, bottle_scans, user_invites, ownership_values,
  organization_join_codes, customer_support, verification_requests, sales_orders, sales_order_items,
  verified_orders;
