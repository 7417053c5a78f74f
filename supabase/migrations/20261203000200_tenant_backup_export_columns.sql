-- Tenant backup: the direct path's streamed export as plain columns.
--
-- tenant_backup_export_query builds each row's line in the database (array_to_json of every column's
-- output text): about three times what COPY of the same columns costs the server. On a direct connection
-- the backup now COPYs the stored columns themselves, in text format, and builds the very same lines as it
-- reads them (lib/backup/copy-text.ts). COPY writes each value as its type's output function does, under
-- the same pinned settings, which is exactly the text the select list reads (it goes around the few casts
-- to text that differ from the output function); the paged path and the run's copy keep building lines
-- in the database, and both produce identical lines.

-- {query, settings}: the tenant's rows of table p_table, stored columns only, in export order.
create or replace function public.tenant_backup_export_columns_query(
  p_plan_id text,
  p_table text,
  p_tenant text
) returns jsonb
language plpgsql
stable
set search_path = pg_catalog
as $$
declare
  v_sql jsonb := public.tenant_backup_export_sql(p_plan_id, p_table, null);
  v_columns text;
begin
  select string_agg(format('t0.%I', c->>'name'), ', ' order by o)
    into v_columns
  from public.tenant_backup_plans p,
       jsonb_array_elements(p.catalog->'tables') as t,
       jsonb_array_elements(t->'columns') with ordinality as u(c, o)
  where p.plan_id = p_plan_id and t->>'name' = p_table and not (c->>'generated')::boolean;
  return jsonb_build_object(
    'query', format('select %s from %s where %s order by %s',
                    v_columns, v_sql->>'source',
                    -- $1 appears in the scope only as "$1::<type>", written by tenant_backup_catalog.
                    replace(v_sql->>'filter', '$1::', quote_literal(p_tenant) || '::'), v_sql->>'order'),
    'settings', jsonb_build_object('datestyle', 'ISO, YMD', 'intervalstyle', 'postgres', 'timezone', 'UTC',
                                   'extra_float_digits', '1', 'bytea_output', 'hex'));
end;
$$;

select public.tenant_backup_restrict_functions(array['tenant_backup_export_columns_query']);
