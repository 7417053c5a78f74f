-- Tenant backup: alerts. Which alerts are open (so that one failure is told once, until it clears), and
-- every delivery of an alert to a channel with its outcome.
create table if not exists public.tenant_backup_alerts_open (
  organization_id text not null,
  event text not null,
  opened_at timestamptz not null,
  primary key (organization_id, event)
);

create table if not exists public.tenant_backup_alert_deliveries (
  id bigserial primary key,
  organization_id text not null,
  event text not null,
  -- "webhook <host>" or "email": never the URL itself, which for Slack is the credential.
  channel text not null,
  status text not null check (status in ('sent', 'failed')),
  attempts integer not null check (attempts >= 1),
  last_error text,
  at timestamptz not null
);

-- Only the service role (and the owner, on the direct connection) reaches the tables.
alter table public.tenant_backup_alerts_open enable row level security;
alter table public.tenant_backup_alert_deliveries enable row level security;
do $$
declare
  v_roles text := concat_ws(', ', 'public',
    (select 'anon' from pg_roles where rolname = 'anon'),
    (select 'authenticated' from pg_roles where rolname = 'authenticated'));
begin
  execute format('revoke all on table public.tenant_backup_alerts_open from %s', v_roles);
  execute format('revoke all on table public.tenant_backup_alert_deliveries from %s', v_roles);
  execute format('revoke all on sequence public.tenant_backup_alert_deliveries_id_seq from %s', v_roles);
  if exists (select 1 from pg_roles where rolname = 'service_role') then
    execute 'grant select, insert, update, delete on table public.tenant_backup_alerts_open to service_role';
    execute 'grant select, insert on table public.tenant_backup_alert_deliveries to service_role';
    execute 'grant usage on sequence public.tenant_backup_alert_deliveries_id_seq to service_role';
  end if;
end;
$$;

-- Opens the alert; answers true when it was not open already (the caller then sends it).
create or replace function public.tenant_backup_alert_open(p_org text, p_event text, p_at timestamptz)
returns boolean
language sql
volatile
set search_path = pg_catalog
as $$
  with opened as (
    insert into public.tenant_backup_alerts_open (organization_id, event, opened_at)
    values (p_org, p_event, p_at)
    on conflict (organization_id, event) do nothing
    returning 1)
  select exists (select 1 from opened);
$$;

-- Closes the alert; answers true when it was open (the caller then sends the "resolved" one).
create or replace function public.tenant_backup_alert_clear(p_org text, p_event text)
returns boolean
language sql
volatile
set search_path = pg_catalog
as $$
  with cleared as (
    delete from public.tenant_backup_alerts_open where organization_id = p_org and event = p_event
    returning 1)
  select exists (select 1 from cleared);
$$;

-- Records one delivery of an alert to one channel.
create or replace function public.tenant_backup_alert_delivered(
  p_org text, p_event text, p_channel text, p_status text, p_attempts integer, p_last_error text,
  p_at timestamptz
) returns void
language sql
volatile
set search_path = pg_catalog
as $$
  insert into public.tenant_backup_alert_deliveries
    (organization_id, event, channel, status, attempts, last_error, at)
  values (p_org, p_event, p_channel, p_status, p_attempts, p_last_error, p_at);
$$;

select public.tenant_backup_restrict_functions(array[
  'tenant_backup_alert_open', 'tenant_backup_alert_clear', 'tenant_backup_alert_delivered']);
