-- Tenant backup: the scheduled run's work items, claimed by several calls at once.
--
-- Each call of the scheduled run adds the tenants it finds due, one item per tenant and schedule slot
-- (adding an item twice keeps the first), then claims items a few at a time with FOR UPDATE SKIP LOCKED:
-- calls started side by side (background functions, several cron calls) share the due tenants without
-- waiting on each other and without two of them taking one item. A claim expires, so that the items of
-- a call that was killed go to the next one. The tenant's lease and the schedule, checked again under it,
-- still decide whether a backup is made: an item only says who should try.
create table if not exists public.tenant_backup_work_items (
  organization_id text not null,
  -- The start of the schedule slot the backup is due for (lib/schedule/slots.ts, the application's clock).
  slot_start timestamptz not null,
  -- due: to claim; claimed: a call works on it until claimed_until; done: the slot is covered or the
  -- tenant is not due; retry: failed or busy, claimed again once a later call adds it again.
  state text not null default 'due' check (state in ('due', 'claimed', 'done', 'retry')),
  claimed_by text,
  claimed_until timestamptz,
  updated_at timestamptz not null default clock_timestamp(),
  primary key (organization_id, slot_start)
);
create index if not exists tenant_backup_work_items_open
  on public.tenant_backup_work_items (slot_start, organization_id) where state in ('due', 'claimed');

-- Only the service role (and the owner, on the direct connection) reaches the table, as backup_logs.
alter table public.tenant_backup_work_items enable row level security;
do $$
declare
  v_roles text := concat_ws(', ', 'public',
    (select 'anon' from pg_roles where rolname = 'anon'),
    (select 'authenticated' from pg_roles where rolname = 'authenticated'));
begin
  execute format('revoke all on table public.tenant_backup_work_items from %s', v_roles);
  if exists (select 1 from pg_roles where rolname = 'service_role') then
    execute 'grant select, insert, update, delete on table public.tenant_backup_work_items to service_role';
  end if;
end;
$$;

-- Adds p_items ([{organization_id, slot_start}]) as due work; an item already there is kept, except one
-- left to retry, which is due again. Forgets items of slots that started before p_forget_before. Answers
-- { open: items due or claimed now, done: the tenants of p_items whose item is already done }.
create or replace function public.tenant_backup_work_add(p_items jsonb, p_forget_before timestamptz)
returns jsonb
language plpgsql
volatile
set search_path = pg_catalog
as $$
begin
  delete from public.tenant_backup_work_items where slot_start < p_forget_before;
  insert into public.tenant_backup_work_items as w (organization_id, slot_start)
  select i.organization_id, i.slot_start
  from jsonb_to_recordset(coalesce(p_items, '[]'::jsonb)) as i(organization_id text, slot_start timestamptz)
  order by 1, 2
  on conflict (organization_id, slot_start) do update
    set state = 'due', claimed_by = null, claimed_until = null, updated_at = clock_timestamp()
    where w.state = 'retry';
  return jsonb_build_object(
    'open', (select count(*) from public.tenant_backup_work_items where state in ('due', 'claimed')),
    'done', (select coalesce(jsonb_agg(w.organization_id order by w.organization_id), '[]'::jsonb)
             from public.tenant_backup_work_items w
             join jsonb_to_recordset(coalesce(p_items, '[]'::jsonb)) as i(organization_id text, slot_start timestamptz)
               on w.organization_id = i.organization_id and w.slot_start = i.slot_start
             where w.state = 'done'));
end;
$$;

-- Claims for p_holder, for p_ttl_seconds, up to p_limit items that are due or whose claim expired,
-- oldest slot first, skipping those another call is claiming at this moment. Answers
-- [{organization_id, slot_start}].
create or replace function public.tenant_backup_work_claim(p_holder text, p_limit integer, p_ttl_seconds integer)
returns jsonb
language sql
volatile
set search_path = pg_catalog
as $$
  with picked as (
    select w.organization_id, w.slot_start
    from public.tenant_backup_work_items w
    where w.state = 'due' or (w.state = 'claimed' and w.claimed_until < clock_timestamp())
    order by w.slot_start, w.organization_id
    limit greatest(p_limit, 0)
    for update skip locked
  ), claimed as (
    update public.tenant_backup_work_items w
    set state = 'claimed', claimed_by = p_holder,
        claimed_until = clock_timestamp() + make_interval(secs => p_ttl_seconds), updated_at = clock_timestamp()
    from picked
    where w.organization_id = picked.organization_id and w.slot_start = picked.slot_start
    returning w.organization_id, w.slot_start
  )
  select coalesce(jsonb_agg(jsonb_build_object('organization_id', c.organization_id, 'slot_start', c.slot_start)
                            order by c.slot_start, c.organization_id), '[]'::jsonb)
  from claimed c;
$$;

-- Ends p_holder's claim on an item: p_state 'done' (covered or not due), 'retry' (failed or busy: a later
-- call's add makes it due again) or 'due' (stopped by the time budget: any call may continue it). Answers
-- false when the claim is no longer p_holder's (it expired and another call took the item).
create or replace function public.tenant_backup_work_finish(
  p_holder text, p_org text, p_slot_start timestamptz, p_state text
) returns jsonb
language plpgsql
volatile
set search_path = pg_catalog
as $$
begin
  if p_state not in ('done', 'retry', 'due') then
    raise exception using errcode = '22023', message = 'p_state must be done, retry or due';
  end if;
  update public.tenant_backup_work_items
  set state = p_state, claimed_by = null, claimed_until = null, updated_at = clock_timestamp()
  where organization_id = p_org and slot_start = p_slot_start and state = 'claimed' and claimed_by = p_holder;
  return to_jsonb(found);
end;
$$;

select public.tenant_backup_restrict_functions(array[
  'tenant_backup_work_add', 'tenant_backup_work_claim', 'tenant_backup_work_finish']);
