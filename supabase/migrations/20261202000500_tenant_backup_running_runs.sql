-- The runs of one tenant still marked running, with their progress: a chunk sweep keeps every chunk such a
-- run has already stored or reused (its progress lists them), since the run may continue and name them in
-- its summary.
create or replace function public.tenant_backup_runs_running(p_org text) returns jsonb
language sql
stable
set search_path = pg_catalog
as $$
  select coalesce(jsonb_agg(to_jsonb(r) order by r.started_at), '[]'::jsonb)
  from public.tenant_backup_runs r
  where r.organization_id = p_org and r.status = 'running';
$$;

select public.tenant_backup_restrict_functions(array['tenant_backup_runs_running']);
