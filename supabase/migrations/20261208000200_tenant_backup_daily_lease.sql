-- Tenant backup: the scheduled run takes a tenant's lease and reads its schedule in one round trip.
--
-- The scheduled run decides again, under the tenant's lease, whether the tenant is still due: another
-- call may have backed it up since this call read the schedules. That took two calls, the second sent
-- once the first had answered (tenant_backup_lock_acquire, then tenant_backup_schedule_get), for every
-- tenant of the night. Here the schedule is read after the lease is taken, in the same call: a call that
-- backed the tenant up recorded its schedule before it released the lease, so the read sees it.

-- Answers what tenant_backup_lock_acquire answers; when acquired, with the tenant's schedule row (null
-- when it has none) under "schedule".
create or replace function public.tenant_backup_lock_acquire_scheduled(
  p_org text, p_operation text, p_holder text, p_ttl_seconds integer
) returns jsonb
language plpgsql
volatile
set search_path = pg_catalog
as $$
declare
  v_lock jsonb := public.tenant_backup_lock_acquire(p_org, p_operation, p_holder, p_ttl_seconds);
begin
  if not (v_lock->>'acquired')::boolean then
    return v_lock;
  end if;
  return v_lock || jsonb_build_object('schedule', public.tenant_backup_schedule_get(p_org));
end;
$$;

select public.tenant_backup_restrict_functions(array['tenant_backup_lock_acquire_scheduled']);
