-- Tenant backup: a restore over a direct connection vacuums the tables it writes that hold many dead rows.
--
-- A restore into a tenant emptied moments before (the rows deleted by mistake, the restore started at
-- once) writes its rows among the dead ones of the delete, until autovacuum clears them, a minute or more
-- later for large tables. Every row it inserts then goes into indexes still full of the dead rows' entries.
-- On the bench's 1M rows restored right after the tenant was emptied (BENCH_SETTLE=0), the restore took
-- 1.61× its baseline without the VACUUM below and 1.31× with it (its apply's writes 14.7 s and 12.4 s; two
-- runs). So before the apply the engine runs VACUUM on the tables it writes that autovacuum would vacuum
-- next: dead rows over autovacuum_vacuum_threshold + autovacuum_vacuum_scale_factor × the table's rows,
-- the table's own settings first. VACUUM cannot run in a function or a transaction, so this only names
-- them; the engine vacuums them on its direct connection (the PostgREST path cannot), skipping a table
-- another session holds.

-- The tables of p_tables (a JSON array of names of tenant tables of plan p_plan_id) that autovacuum would
-- vacuum next, as a JSON array of {schema, name}.
create or replace function public.tenant_backup_vacuum_due(p_plan_id text, p_tables jsonb) returns jsonb
language sql
stable
set search_path = pg_catalog
as $$
  select coalesce(jsonb_agg(jsonb_build_object('schema', n.nspname, 'name', c.relname) order by c.relname),
                  '[]'::jsonb)
  from pg_class c
  join pg_namespace n on n.oid = c.relnamespace
  join pg_stat_all_tables s on s.relid = c.oid
  cross join lateral (
    select coalesce((select option_value from pg_options_to_table(c.reloptions)
                     where option_name = 'autovacuum_vacuum_threshold'),
                    current_setting('autovacuum_vacuum_threshold'))::float8 as base,
           coalesce((select option_value from pg_options_to_table(c.reloptions)
                     where option_name = 'autovacuum_vacuum_scale_factor'),
                    current_setting('autovacuum_vacuum_scale_factor'))::float8 as share
  ) o
  where n.nspname = public.tenant_backup_plan_catalog(p_plan_id)->>'schema'
    and c.relname in (select jsonb_array_elements_text(p_tables))
    and exists (select 1 from jsonb_array_elements(public.tenant_backup_plan_catalog(p_plan_id)->'tables') t
                where t->>'name' = c.relname)
    and s.n_dead_tup > o.base + o.share * greatest(c.reltuples, 0);
$$;

select public.tenant_backup_restrict_functions(array['tenant_backup_vacuum_due']);
