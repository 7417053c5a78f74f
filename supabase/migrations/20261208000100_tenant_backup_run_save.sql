-- Tenant backup: a run's progress saved under its lease in one round trip.
--
-- A backup saves its progress only while its lease is still its own: a call whose lease was taken over
-- must not overwrite the new holder's progress. That took two calls, the second sent once the first had
-- answered (tenant_backup_lock_renew, then tenant_backup_run_progress), at least once per backup, before
-- its summary: two requests of a small tenant's twenty-odd through the Supabase API. Here the lease is
-- renewed and, only when it was, the progress saved, in one call.

-- Answers {"lease": renewed, "run": saved}: run is false when the lease was not renewed (nothing saved) or
-- the run is no longer running.
create or replace function public.tenant_backup_run_save(
  p_org text, p_holder text, p_ttl_seconds integer, p_backup_id text, p_progress jsonb
) returns jsonb
language plpgsql
volatile
set search_path = pg_catalog
as $$
begin
  if not public.tenant_backup_lock_renew(p_org, p_holder, p_ttl_seconds)::boolean then
    return jsonb_build_object('lease', false, 'run', false);
  end if;
  return jsonb_build_object('lease', true,
    'run', public.tenant_backup_run_progress(p_backup_id, p_progress)::boolean);
end;
$$;

select public.tenant_backup_restrict_functions(array['tenant_backup_run_save']);
