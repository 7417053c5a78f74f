-- Tenant backup: each tenant's backup schedule, and when its last scheduled backup completed.
--
-- A row exists for a tenant whose schedule was set (backup-schedule PUT) or that has had a scheduled
-- backup. frequency null means "follows the default from configuration" (DEFAULT_SCHEDULE_*); the other
-- settings are then null too. Slot arithmetic is the application's (lib/schedule/slots.ts): the times here
-- are written by it from its one clock, so that "due" is decided on one time line.
create table if not exists public.tenant_backup_schedules (
  organization_id text primary key,
  frequency text check (frequency in ('every_2_days', 'daily', 'weekly', 'off')),
  time_of_day text check (time_of_day ~ '^([01][0-9]|2[0-3]):[0-5][0-9]$'),
  day_of_week smallint check (day_of_week between 0 and 6),
  enabled boolean not null default true,
  -- When the cron will next back the tenant up, as computed at the last change or scheduled backup.
  next_run_at timestamptz,
  -- When the last scheduled backup completed, and which backup it was.
  last_run_at timestamptz,
  last_backup_id text,
  updated_at timestamptz not null default now(),
  constraint tenant_backup_schedules_settings check (
    (frequency is null and time_of_day is null and day_of_week is null)
    or (frequency = 'weekly' and time_of_day is not null and day_of_week is not null)
    or (frequency in ('every_2_days', 'daily', 'off') and time_of_day is not null and day_of_week is null))
);

-- Only the service role (and the owner, on the direct connection) reaches the table, as backup_logs.
alter table public.tenant_backup_schedules enable row level security;
do $$
declare
  v_roles text := concat_ws(', ', 'public',
    (select 'anon' from pg_roles where rolname = 'anon'),
    (select 'authenticated' from pg_roles where rolname = 'authenticated'));
begin
  execute format('revoke all on table public.tenant_backup_schedules from %s', v_roles);
  if exists (select 1 from pg_roles where rolname = 'service_role') then
    execute 'grant select, insert, update, delete on table public.tenant_backup_schedules to service_role';
  end if;
end;
$$;

-- A tenant's schedule row, or null when it has none (it follows the default).
create or replace function public.tenant_backup_schedule_get(p_org text) returns jsonb
language sql
stable
set search_path = pg_catalog
as $$
  select to_jsonb(s) from public.tenant_backup_schedules s where s.organization_id = p_org;
$$;

-- Every schedule row, with the record and byte counts of each one's last scheduled backup (for the cron
-- call's answer about tenants that are not due).
create or replace function public.tenant_backup_schedules_list() returns jsonb
language sql
stable
set search_path = pg_catalog
as $$
  select coalesce(jsonb_agg(to_jsonb(s) || jsonb_build_object(
           'last_records', r.records_count, 'last_bytes', r.file_size) order by s.organization_id), '[]'::jsonb)
  from public.tenant_backup_schedules s
  left join public.tenant_backup_runs r on r.backup_id = s.last_backup_id;
$$;

-- Sets a tenant's schedule (keeping when it last ran); answers the row.
create or replace function public.tenant_backup_schedule_put(
  p_org text, p_frequency text, p_time_of_day text, p_day_of_week smallint, p_enabled boolean,
  p_next_run_at timestamptz
) returns jsonb
language sql
volatile
set search_path = pg_catalog
as $$
  insert into public.tenant_backup_schedules as s
    (organization_id, frequency, time_of_day, day_of_week, enabled, next_run_at, updated_at)
  values (p_org, p_frequency, p_time_of_day, p_day_of_week, p_enabled, p_next_run_at, clock_timestamp())
  on conflict (organization_id) do update
    set frequency = excluded.frequency, time_of_day = excluded.time_of_day,
        day_of_week = excluded.day_of_week, enabled = excluded.enabled,
        next_run_at = excluded.next_run_at, updated_at = excluded.updated_at
  returning to_jsonb(s);
$$;

-- Records that a scheduled backup of the tenant completed at p_at (keeping its settings, or creating a
-- row that follows the default); answers the row.
create or replace function public.tenant_backup_schedule_ran(
  p_org text, p_at timestamptz, p_backup_id text, p_next_run_at timestamptz
) returns jsonb
language sql
volatile
set search_path = pg_catalog
as $$
  insert into public.tenant_backup_schedules as s
    (organization_id, last_run_at, last_backup_id, next_run_at, updated_at)
  values (p_org, p_at, p_backup_id, p_next_run_at, clock_timestamp())
  on conflict (organization_id) do update
    set last_run_at = excluded.last_run_at, last_backup_id = excluded.last_backup_id,
        next_run_at = excluded.next_run_at, updated_at = excluded.updated_at
  returning to_jsonb(s);
$$;

select public.tenant_backup_restrict_functions(array[
  'tenant_backup_schedule_get', 'tenant_backup_schedules_list', 'tenant_backup_schedule_put',
  'tenant_backup_schedule_ran']);
