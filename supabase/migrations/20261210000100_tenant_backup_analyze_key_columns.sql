-- Tenant backup: a restore analyzes the columns its plans read, not every column.
--
-- tenant_backup_analyze_stale (20261209000100) analyzed a stale table whole. ANALYZE computes statistics
-- for each column, so its time grows with the columns: 7 s for a table of 200 columns and 20,000 rows,
-- where a dry run over unchanged data took 5 s besides. What the restore's plans need is the number of the
-- table's rows and the statistics of the columns they select a tenant's rows by and join on: the tenant
-- key, primary and unique keys, foreign keys, indexed columns (76 ms for that table). Those are analyzed.
-- PostgreSQL does not count an ANALYZE of some columns as the table's (n_mod_since_analyze stays), so
-- autovacuum still analyzes the table whole when its turn comes; until then the next restore analyzes
-- those columns again.

-- As before (see 20261209000100), but only the columns above; a table without any is analyzed whole.
create or replace function public.tenant_backup_analyze_stale(p_plan_id text, p_tables jsonb) returns jsonb
language plpgsql
volatile
security definer
set search_path = pg_catalog
set statement_timeout = '55s'
set lock_timeout = '10s'
as $$
declare
  v_catalog jsonb := public.tenant_backup_plan_catalog(p_plan_id);
  v_schema text := v_catalog->>'schema';
  v_stale text[];
  v_done text[] := '{}';
  v_name text;
  v_columns text;
begin
  select coalesce(array_agg(c.relname::text order by c.relname), '{}') into v_stale
  from pg_class c
  join pg_namespace n on n.oid = c.relnamespace
  join pg_stat_all_tables s on s.relid = c.oid
  cross join lateral (
    select coalesce((select option_value from pg_options_to_table(c.reloptions)
                     where option_name = 'autovacuum_analyze_threshold'),
                    current_setting('autovacuum_analyze_threshold'))::float8 as base,
           coalesce((select option_value from pg_options_to_table(c.reloptions)
                     where option_name = 'autovacuum_analyze_scale_factor'),
                    current_setting('autovacuum_analyze_scale_factor'))::float8 as share
  ) o
  where n.nspname = v_schema
    and c.relname in (select jsonb_array_elements_text(p_tables))
    and exists (select 1 from jsonb_array_elements(v_catalog->'tables') t where t->>'name' = c.relname)
    and s.n_mod_since_analyze > o.base + o.share * greatest(c.reltuples, 0);
  foreach v_name in array v_stale loop
    select string_agg(format('%I', a.attname), ', ' order by a.attnum) into v_columns
    from pg_attribute a
    where a.attrelid = format('%I.%I', v_schema, v_name)::regclass
      and a.attnum > 0
      and not a.attisdropped
      and (a.attname::text in (v_catalog->>'key', v_catalog->>'root_key')
           or exists (select 1 from pg_index i where i.indrelid = a.attrelid and a.attnum = any (i.indkey))
           or exists (select 1 from pg_constraint k
                      where k.conrelid = a.attrelid and k.contype in ('p', 'u', 'f') and a.attnum = any (k.conkey)));
    begin
      execute format('analyze %I.%I', v_schema, v_name) || coalesce(' (' || v_columns || ')', '');
      v_done := v_done || v_name;
    exception when lock_not_available then
      raise warning 'tenant backup: % is held by another session; its statistics are left as they are', v_name;
    end;
  end loop;
  return to_jsonb(v_done);
end;
$$;

select public.tenant_backup_restrict_functions(array['tenant_backup_analyze_stale']);
