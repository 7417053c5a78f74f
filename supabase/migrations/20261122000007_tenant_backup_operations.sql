-- Tenant backup: what operating the backups needs — the admin's role lookup, per-tenant rate limits and
-- the newest backup of each tenant for the health check. Idempotent; runs on Supabase and on plain
-- PostgreSQL alike. Grants come from 20261122000099 (every tenant_backup_% table and function), which runs
-- after this file: only the service role may call these.

-- The last expensive call (manual backup, restore) per tenant and kind, so that a limit holds across
-- function instances. One row per (tenant, kind): the table never grows beyond that.
create table if not exists public.tenant_backup_rate_limits (
  organization_id text not null,
  kind text not null,
  last_at timestamptz not null,
  primary key (organization_id, kind)
);

-- Deletions are looked up by backup id (the health check skips deleted backups).
create index if not exists backup_logs_backup_id_idx on public.backup_logs (backup_id) where backup_id is not null;

-- Takes the tenant's slot for `p_kind` when the last one is at least p_min_interval_seconds old. Answers
-- {allowed: true, taken_at, previous_at} or {allowed: false, retry_after_seconds, last_at}. The row lock
-- makes two concurrent calls of one tenant see each other: only one of them is allowed.
create or replace function public.tenant_backup_rate_limit_take(
  p_org text, p_kind text, p_min_interval_seconds integer
) returns jsonb
language plpgsql
volatile
set search_path = pg_catalog
as $$
declare
  v_now timestamptz := clock_timestamp();
  v_last timestamptz;
  v_next timestamptz;
begin
  insert into public.tenant_backup_rate_limits (organization_id, kind, last_at)
  values (p_org, p_kind, v_now)
  on conflict (organization_id, kind) do nothing;
  if found then
    return jsonb_build_object('allowed', true, 'taken_at', v_now, 'previous_at', null);
  end if;
  select last_at into v_last from public.tenant_backup_rate_limits
  where organization_id = p_org and kind = p_kind
  for update;
  v_next := v_last + make_interval(secs => greatest(p_min_interval_seconds, 0));
  if v_next <= v_now then
    update public.tenant_backup_rate_limits set last_at = v_now where organization_id = p_org and kind = p_kind;
    return jsonb_build_object('allowed', true, 'taken_at', v_now, 'previous_at', v_last);
  end if;
  return jsonb_build_object('allowed', false, 'last_at', v_last,
    'retry_after_seconds', greatest(1, ceil(extract(epoch from v_next - v_now)))::integer);
end;
$$;

-- Gives a slot back when the call it was taken for did no work (the tenant was busy): puts the previous
-- time back, unless another call has taken the slot since. Answers whether it did.
create or replace function public.tenant_backup_rate_limit_release(
  p_org text, p_kind text, p_taken_at timestamptz, p_previous_at timestamptz
) returns jsonb
language sql
volatile
set search_path = pg_catalog
as $$
  with restored as (
    update public.tenant_backup_rate_limits set last_at = p_previous_at
    where organization_id = p_org and kind = p_kind and last_at = p_taken_at and p_previous_at is not null
    returning 1),
  removed as (
    delete from public.tenant_backup_rate_limits
    where organization_id = p_org and kind = p_kind and last_at = p_taken_at and p_previous_at is null
    returning 1)
  select to_jsonb(exists (select 1 from restored) or exists (select 1 from removed));
$$;

-- The role and organization of a signed-in user, read from the app's own table (by default
-- profiles(id, role, organization_id)): [{role, organization_id}], empty when the user has no row. Names
-- come from configuration and are quoted with %I; the id is cast to the id column's type so the lookup
-- uses its index, and an id that does not fit that type (not a uuid) simply has no row.
create or replace function public.tenant_backup_user_roles(
  p_user_id text,
  p_table text default 'profiles',
  p_id_column text default 'id',
  p_role_column text default 'role',
  p_org_column text default 'organization_id',
  p_schema text default 'public'
) returns jsonb
language plpgsql
stable
set search_path = pg_catalog
as $$
declare
  v_type text;
  v_result jsonb;
begin
  select format_type(a.atttypid, a.atttypmod) into v_type
  from pg_attribute a
  join pg_class c on c.oid = a.attrelid
  join pg_namespace n on n.oid = c.relnamespace
  where n.nspname = p_schema and c.relname = p_table and a.attname = p_id_column
    and a.attnum > 0 and not a.attisdropped;
  if v_type is null then
    raise exception using errcode = '42P01',
      message = format('admin profile table %I.%I with column %I not found (ADMIN_PROFILE_TABLE, ADMIN_USER_ID_COLUMN)',
                       p_schema, p_table, p_id_column);
  end if;
  begin
    execute format(
      'select coalesce(jsonb_agg(jsonb_build_object(''role'', s.r, ''organization_id'', s.o)), ''[]''::jsonb) '
      'from (select t.%1$I::text as r, t.%2$I::text as o from %3$I.%4$I t where t.%5$I = $1::%6$s limit 100) s',
      p_role_column, p_org_column, p_schema, p_table, p_id_column, v_type)
      into v_result using p_user_id;
  exception when invalid_text_representation or numeric_value_out_of_range then
    return '[]'::jsonb;
  end;
  return v_result;
end;
$$;

-- Each tenant's newest completed backup run that has not been deleted since (by retention or by hand),
-- or only p_org's. For the health check: cheap enough to answer an uptime monitor every minute.
create or replace function public.tenant_backup_newest_completed(p_org text default null) returns jsonb
language sql
stable
set search_path = pg_catalog
as $$
  select coalesce(jsonb_agg(to_jsonb(x) order by x.organization_id), '[]'::jsonb)
  from (
    select distinct on (r.organization_id)
      r.organization_id, r.backup_id, r.backup_type, r.backup_date, r.completed_at, r.records_count, r.file_size
    from public.tenant_backup_runs r
    where r.status = 'completed'
      and (p_org is null or r.organization_id = p_org)
      and not exists (
        select 1 from public.backup_logs l
        where l.backup_id = r.backup_id and l.backup_type in ('retention', 'delete') and not l.dry_run)
    order by r.organization_id, r.completed_at desc
  ) x;
$$;
