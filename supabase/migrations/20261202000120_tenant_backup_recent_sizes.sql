-- Tenant backup: the sizes of a tenant's recent backups, for backup.size_changed (a backup much larger or
-- smaller than the median of the ones before it).

-- The stored bytes of the tenant's last p_limit completed daily and manual backups started before
-- p_before_backup_id's run (undo points are left out: they are the tenant as a restore found it), newest
-- first; deleted backups count too, since they tell the tenant's usual size all the same.
create or replace function public.tenant_backup_recent_sizes(
  p_org text, p_before_backup_id text, p_limit integer default 7
) returns jsonb
language sql
stable
set search_path = pg_catalog
as $$
  select coalesce(jsonb_agg(x.file_size order by x.started_at desc), '[]'::jsonb)
  from (
    select r.file_size, r.started_at
    from public.tenant_backup_runs r
    where r.organization_id = p_org and r.status = 'completed' and r.file_size is not null
      and r.backup_type in ('daily', 'manual') and r.backup_id <> p_before_backup_id
      and r.started_at < (select b.started_at from public.tenant_backup_runs b where b.backup_id = p_before_backup_id)
    order by r.started_at desc
    limit least(greatest(p_limit, 1), 100)
  ) x;
$$;

select public.tenant_backup_restrict_functions(array['tenant_backup_recent_sizes']);
