-- Tenant backup: the direct path's streamed export as plain columns.
--
-- tenant_backup_export_query builds each row's line in the database (array_to_json of every column's
-- output text): about three times what COPY of the same columns costs the server. On a direct connection
-- the backup now COPYs the stored columns themselves, in text format, and builds the very same lines as it
-- reads them (lib/backup/copy-text.ts). COPY writes each value as its type's output function does, under
-- the same pinned settings, which is exactly the text the select list reads (it goes around the few casts
-- to text that differ from the output function); the paged path and the run's copy keep building lines
-- in the database, and both produce identical lines.

-- {queries: {table: query}, settings}: for every tenant table of plan p_plan_id (or only those named in
-- the JSON array p_tables), the select of tenant p_tenant's rows, stored columns only, in export order.
-- One call for the whole tenant: a small tenant's backup would otherwise spend a round trip per table.
create or replace function public.tenant_backup_export_columns_queries(
  p_plan_id text,
  p_tenant text,
  p_tables jsonb default null
) returns jsonb
language plpgsql
stable
set search_path = pg_catalog
as $$
declare
  v_catalog jsonb;
  v_table jsonb;
  v_sql jsonb;
  v_columns text;
  v_queries jsonb := '{}'::jsonb;
begin
  select catalog into v_catalog from public.tenant_backup_plans where plan_id = p_plan_id;
  if v_catalog is null then
    raise exception using errcode = 'P0002', message = format('no plan %s: call tenant_backup_prepare', p_plan_id);
  end if;
  for v_table in select t from jsonb_array_elements(v_catalog->'tables') as t
                 where p_tables is null or p_tables ? (t->>'name') loop
    v_sql := public.tenant_backup_export_sql(p_plan_id, v_table->>'name', null);
    select string_agg(format('t0.%I', c->>'name'), ', ' order by o)
      into v_columns
    from jsonb_array_elements(v_table->'columns') with ordinality as u(c, o)
    where not (c->>'generated')::boolean;
    v_queries := v_queries || jsonb_build_object(v_table->>'name', format(
      'select %s from %s where %s order by %s',
      v_columns, v_sql->>'source',
      -- $1 appears in the scope only as "$1::<type>", written by tenant_backup_catalog.
      replace(v_sql->>'filter', '$1::', quote_literal(p_tenant) || '::'), v_sql->>'order'));
  end loop;
  return jsonb_build_object(
    'queries', v_queries,
    'settings', jsonb_build_object('datestyle', 'ISO, YMD', 'intervalstyle', 'postgres', 'timezone', 'UTC',
                                   'extra_float_digits', '1', 'bytea_output', 'hex'));
end;
$$;

select public.tenant_backup_restrict_functions(array['tenant_backup_export_columns_queries']);
