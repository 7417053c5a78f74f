-- Tenant backup: adding the scheduled run's work items no longer locks the items already there.
--
-- Every call of the run adds the same items. The add used INSERT … ON CONFLICT DO UPDATE … WHERE state =
-- 'retry', which locks every item that is already there, whether it updates it or not, until the add's
-- transaction ends. A call claiming at that moment (FOR UPDATE SKIP LOCKED) could skip them all, find
-- nothing to claim and end with every tenant "busy" while the items were due, leaving the run to fewer
-- calls than were started. Now an item to retry is made due by an UPDATE that locks only such items, and
-- new items are inserted with ON CONFLICT DO NOTHING, which locks none.

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
  -- Both steps take their rows in key order, as every call does: two adds of the same items wait on
  -- each other, never deadlock.
  with retry as (
    select w.organization_id, w.slot_start
    from public.tenant_backup_work_items w
    join jsonb_to_recordset(coalesce(p_items, '[]'::jsonb)) as i(organization_id text, slot_start timestamptz)
      on w.organization_id = i.organization_id and w.slot_start = i.slot_start
    where w.state = 'retry'
    order by 1, 2
    for update of w
  )
  update public.tenant_backup_work_items w
  set state = 'due', claimed_by = null, claimed_until = null, updated_at = clock_timestamp()
  from retry r
  where w.organization_id = r.organization_id and w.slot_start = r.slot_start;
  insert into public.tenant_backup_work_items (organization_id, slot_start)
  select i.organization_id, i.slot_start
  from jsonb_to_recordset(coalesce(p_items, '[]'::jsonb)) as i(organization_id text, slot_start timestamptz)
  order by 1, 2
  on conflict (organization_id, slot_start) do nothing;
  return jsonb_build_object(
    'open', (select count(*) from public.tenant_backup_work_items where state in ('due', 'claimed')),
    'done', (select coalesce(jsonb_agg(w.organization_id order by w.organization_id), '[]'::jsonb)
             from public.tenant_backup_work_items w
             join jsonb_to_recordset(coalesce(p_items, '[]'::jsonb)) as i(organization_id text, slot_start timestamptz)
               on w.organization_id = i.organization_id and w.slot_start = i.slot_start
             where w.state = 'done'));
end;
$$;

select public.tenant_backup_restrict_functions(array['tenant_backup_work_add']);
