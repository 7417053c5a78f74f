-- Tenant backup: a restore starts on true statistics.
--
-- The apply's statements join the tenant's rows with temp tables of the staged and exported rows, and
-- PostgreSQL plans each from the table's statistics. Statistics taken while the tenant had no rows in a
-- table (after the tenant was emptied, as before a restore into it) say it has about none; until
-- autovacuum analyzes the table again (up to a minute or more after the rows came back), the planner can
-- then choose to read a temp table of all the tenant's rows once per tenant row: an apply of 1M rows that
-- normally takes 20 s ran past 13 minutes. So, before the apply, the restore has PostgreSQL analyze the
-- restored tables that autovacuum would analyze next: changed since their last analyze by more rows than
-- its threshold (autovacuum_analyze_threshold + autovacuum_analyze_scale_factor × the table's rows, the
-- table's own settings first). Work autovacuum would have done anyway, done first; in a call of its own,
-- so that a dry run, whose apply is rolled back, keeps it too. A CSV import does the same for its table.

-- Analyzes the tables of p_tables (a JSON array of names of tenant tables of plan p_plan_id) that
-- autovacuum would analyze next. PostgreSQL skips, with a warning, a table being vacuumed or analyzed
-- right now (its statistics are being taken) and one the functions' owner may not analyze. Answers the
-- tables it asked PostgreSQL to analyze, by name (a JSON array).
create or replace function public.tenant_backup_analyze_stale(p_plan_id text, p_tables jsonb) returns jsonb
language plpgsql
volatile
security definer
set search_path = pg_catalog
set statement_timeout = '55s'
as $$
declare
  v_catalog jsonb := public.tenant_backup_plan_catalog(p_plan_id);
  v_schema text := v_catalog->>'schema';
  v_stale text[];
  v_name text;
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
    execute format('analyze (skip_locked) %I.%I', v_schema, v_name);
  end loop;
  return to_jsonb(v_stale);
end;
$$;

select public.tenant_backup_restrict_functions(array['tenant_backup_analyze_stale']);
