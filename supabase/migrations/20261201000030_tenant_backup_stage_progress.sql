-- Tenant backup: how far a restore's staging got. Through the Supabase API one call may stage only what
-- fits its time budget; the next call asks this function what is already staged and goes on from there.
-- The staged pages themselves (tenant_backup_stage) are the record of progress.
--
-- Answers { "<table>": { "pages": n, "rows": n, "last_page": n } } for every table with staged pages.
create or replace function public.tenant_backup_stage_progress(p_restore_id text) returns jsonb
language sql
stable
set search_path = pg_catalog
as $$
  select coalesce(jsonb_object_agg(table_name, jsonb_build_object(
           'pages', pages, 'rows', rows, 'last_page', last_page)), '{}'::jsonb)
  from (select table_name, count(*) as pages, sum(row_count) as rows, max(page) as last_page
        from public.tenant_backup_stage where restore_id = p_restore_id group by table_name) t;
$$;

-- Only the service role (and the owner, on the direct connection) may call it: see
-- tenant_backup_restrict_functions (20261201000001).
select public.tenant_backup_restrict_functions(array['tenant_backup_stage_progress']);
