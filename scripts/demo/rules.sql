-- The demo app's validation rules, and a few rows of Bluewater Welding that break them, so that the
-- validation report has something to show. Applied once, right after the demo data, by `npm start`
-- (installDemoValidation); needs the project's migrations (tenant_backup_validation_rules).
insert into tenant_backup_validation_rules (table_name, column_name, kind, params) values
  ('customers', 'name', 'required', '{}'),
  ('customers', 'email', 'format', '{"format": "email"}'),
  ('customers', 'email', 'unique_in_tenant', '{}'),
  ('rentals', 'started_at', 'date_order', '{"before": "ended_at"}'),
  ('rentals', 'daily_rate', 'range', '{"positive": true, "max": 500}'),
  ('deliveries', 'scheduled_for', 'not_in_future', '{}')
on conflict do nothing;

-- Bluewater Welding's rows that break them: a blank name, two addresses that are no e-mail addresses,
-- one address given to two customers, a rental that ends before it starts, and one rented for free.
with bw as (select '00000000-0000-4000-8000-000000000002'::uuid as org),
     c as (select id, row_number() over (order by id) as n from customers, bw
           where organization_id = bw.org and email is not null)
update customers set
  name = case c.n when 1 then '   ' else customers.name end,
  email = case c.n when 2 then 'accounts(at)bluewater.example' when 3 then 'billing@bluewater'
                   when 4 then (select email from c c2 join customers x using (id) where c2.n = 5)
                   else customers.email end
from c where customers.id = c.id and c.n <= 4;

with bw as (select '00000000-0000-4000-8000-000000000002'::uuid as org),
     r as (select id, row_number() over (order by id) as n from rentals, bw
           where organization_id = bw.org and ended_at is not null)
update rentals set
  ended_at = case r.n when 1 then rentals.started_at - interval '3 days' else rentals.ended_at end,
  daily_rate = case r.n when 2 then 0 else rentals.daily_rate end
from r where rentals.id = r.id and r.n <= 2;
