-- Tenant backup: a restore waits for the statistics it asked for.
--
-- tenant_backup_analyze_stale (20261206000100) skipped a table someone else held the lock of right then
-- (ANALYZE's skip_locked). Autovacuum holds that lock while it vacuums a table, which is what it does
-- soon after many of the table's rows were written: just when the statistics are most likely stale. A dry
-- run after a restore into an emptied tenant and a rewrite of its rows then planned on statistics of the
-- emptied tenant and ran past 7 minutes instead of 12 s. So a table is analyzed even when it is held: its
-- ANALYZE waits, and PostgreSQL cancels an autovacuum another session waits for (after deadlock_timeout,
-- unless it vacuums against wraparound). A lock still held after 10 s (the apply's own lock wait, see
-- tenant_backup_apply_lock) is someone else's: that table is left as it is, and the others analyzed.

-- As before (see 20261206000100), but a table held by another session is waited for (10 s at most each).
-- PostgreSQL still skips, with a warning, a table the functions' owner may not analyze. Answers the tables
-- it asked PostgreSQL to analyze, less those still held after the wait (a JSON array of names).
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
    begin
      execute format('analyze %I.%I', v_schema, v_name);
      v_done := v_done || v_name;
    exception when lock_not_available then
      raise warning 'tenant backup: % is held by another session; its statistics are left as they are', v_name;
    end;
  end loop;
  return to_jsonb(v_done);
end;
$$;

select public.tenant_backup_restrict_functions(array['tenant_backup_analyze_stale']);
