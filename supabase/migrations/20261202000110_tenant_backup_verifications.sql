-- Tenant backup: verification drills. Each drill of a backup (every file re-read against its checksum and
-- row count, then a dry-run restore that is rolled back) is one row here; the newest row of a backup is
-- when it was last verified, and the newest row of a tenant is when the tenant was last drilled.
create table if not exists public.tenant_backup_verifications (
  id bigint generated always as identity primary key,
  organization_id text not null,
  backup_id text not null,
  status text not null check (status in ('passed', 'failed')),
  error_message text,
  details jsonb not null default '{}'::jsonb,
  verified_at timestamptz not null
);
create index if not exists tenant_backup_verifications_backup_idx
  on public.tenant_backup_verifications (backup_id, verified_at desc);
create index if not exists tenant_backup_verifications_org_idx
  on public.tenant_backup_verifications (organization_id, verified_at desc);

-- Only the service role (and the owner, on the direct connection) reaches the table, as backup_logs.
alter table public.tenant_backup_verifications enable row level security;
do $$
declare
  v_roles text := concat_ws(', ', 'public',
    (select 'anon' from pg_roles where rolname = 'anon'),
    (select 'authenticated' from pg_roles where rolname = 'authenticated'));
begin
  execute format('revoke all on table public.tenant_backup_verifications from %s', v_roles);
  execute format('revoke all on sequence public.tenant_backup_verifications_id_seq from %s', v_roles);
  if exists (select 1 from pg_roles where rolname = 'service_role') then
    execute 'grant select, insert on table public.tenant_backup_verifications to service_role';
    execute 'grant usage on sequence public.tenant_backup_verifications_id_seq to service_role';
  end if;
end;
$$;

-- Records one drill's outcome; answers the row.
create or replace function public.tenant_backup_verification_record(
  p_org text, p_backup_id text, p_status text, p_error text, p_details jsonb, p_at timestamptz
) returns jsonb
language sql
volatile
set search_path = pg_catalog
as $$
  insert into public.tenant_backup_verifications as v
    (organization_id, backup_id, status, error_message, details, verified_at)
  values (p_org, p_backup_id, p_status, p_error, coalesce(p_details, '{}'::jsonb), p_at)
  returning to_jsonb(v) - 'id';
$$;

-- The newest drill of each of the given backups (p_backup_ids: a jsonb array of ids): {backup_id, status, verified_at, error_message}, and
-- the newest passed one's time as last_passed_at (null when none passed).
create or replace function public.tenant_backup_verifications_of(p_backup_ids jsonb) returns jsonb
language sql
stable
set search_path = pg_catalog
as $$
  select coalesce(jsonb_agg(jsonb_build_object(
           'backup_id', x.backup_id, 'status', x.status, 'verified_at', x.verified_at,
           'error_message', x.error_message,
           'last_passed_at', (select max(p.verified_at) from public.tenant_backup_verifications p
                              where p.backup_id = x.backup_id and p.status = 'passed'))), '[]'::jsonb)
  from (
    select distinct on (v.backup_id) v.backup_id, v.status, v.verified_at, v.error_message
    from public.tenant_backup_verifications v
    where v.backup_id in (select jsonb_array_elements_text(p_backup_ids))
    order by v.backup_id, v.verified_at desc, v.id desc
  ) x;
$$;

-- When each tenant was last drilled (any of its backups): {organization_id: verified_at}.
create or replace function public.tenant_backup_last_drills() returns jsonb
language sql
stable
set search_path = pg_catalog
as $$
  select coalesce(jsonb_object_agg(x.organization_id, x.at), '{}'::jsonb)
  from (
    select v.organization_id, max(v.verified_at) as at
    from public.tenant_backup_verifications v
    group by v.organization_id
  ) x;
$$;

select public.tenant_backup_restrict_functions(array[
  'tenant_backup_verification_record', 'tenant_backup_verifications_of', 'tenant_backup_last_drills']);
