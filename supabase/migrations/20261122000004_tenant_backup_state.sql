-- Tenant backup: leases (one operation per tenant), run state and log rows, as functions so that the
-- direct connection and supabase-js rpc() do exactly the same work. Every function answers jsonb.

-- Takes the tenant's lease when it is free, expired, or already ours. Answers {acquired, ...holder info}.
create or replace function public.tenant_backup_lock_acquire(
  p_org text, p_operation text, p_holder text, p_ttl_seconds integer
) returns jsonb
language plpgsql
volatile
set search_path = pg_catalog
as $$
declare
  v_row public.tenant_backup_locks;
begin
  insert into public.tenant_backup_locks as l (organization_id, operation, holder, acquired_at, expires_at)
  values (p_org, p_operation, p_holder, clock_timestamp(), clock_timestamp() + make_interval(secs => p_ttl_seconds))
  on conflict (organization_id) do update
    set operation = excluded.operation, holder = excluded.holder,
        acquired_at = excluded.acquired_at, expires_at = excluded.expires_at
    where l.expires_at < clock_timestamp() or l.holder = excluded.holder
  returning * into v_row;
  if v_row.holder is not null then
    return jsonb_build_object('acquired', true, 'expires_at', v_row.expires_at);
  end if;
  select * into v_row from public.tenant_backup_locks where organization_id = p_org;
  return jsonb_build_object('acquired', false, 'operation', v_row.operation, 'holder', v_row.holder,
                            'expires_at', v_row.expires_at);
end;
$$;

-- Extends our lease. false: it expired and someone else took it, so the caller must stop.
create or replace function public.tenant_backup_lock_renew(
  p_org text, p_holder text, p_ttl_seconds integer
) returns jsonb
language sql
volatile
set search_path = pg_catalog
as $$
  with renewed as (
    update public.tenant_backup_locks
    set expires_at = clock_timestamp() + make_interval(secs => p_ttl_seconds)
    where organization_id = p_org and holder = p_holder
    returning 1)
  select to_jsonb(exists (select 1 from renewed));
$$;

create or replace function public.tenant_backup_lock_release(p_org text, p_holder text) returns jsonb
language sql
volatile
set search_path = pg_catalog
as $$
  with released as (
    delete from public.tenant_backup_locks where organization_id = p_org and holder = p_holder returning 1)
  select to_jsonb(exists (select 1 from released));
$$;

-- Adds a backup_logs row from a jsonb object whose keys are column names; answers its id.
create or replace function public.tenant_backup_log(p_entry jsonb) returns jsonb
language plpgsql
volatile
set search_path = pg_catalog
as $$
declare
  v_id bigint;
begin
  insert into public.backup_logs (organization_id, backup_type, status, backup_date, backup_id, dry_run,
    records_count, file_size, tables_count, duration_ms, error_message, details, started_at, completed_at)
  select r.organization_id, r.backup_type, r.status, r.backup_date, r.backup_id, coalesce(r.dry_run, false),
    r.records_count, r.file_size, r.tables_count, r.duration_ms, r.error_message, coalesce(r.details, '{}'::jsonb),
    coalesce(r.started_at, now()), r.completed_at
  from jsonb_populate_record(null::public.backup_logs, p_entry) as r
  returning id into v_id;
  return to_jsonb(v_id);
end;
$$;

-- Closes a backup_logs row opened as 'running' (backups and restores open one before they start, so
-- that one killed half way still shows in the history). Sizes left null keep what the row has.
drop function if exists public.tenant_backup_log_finish(bigint, text, bigint, text, jsonb);
create or replace function public.tenant_backup_log_finish(
  p_id bigint, p_status text, p_records bigint, p_error text, p_details jsonb,
  p_bytes bigint default null, p_tables integer default null
) returns jsonb
language sql
volatile
set search_path = pg_catalog
as $$
  with done as (
    update public.backup_logs
    set status = p_status, records_count = p_records, error_message = p_error,
        file_size = coalesce(p_bytes, file_size), tables_count = coalesce(p_tables, tables_count),
        details = coalesce(p_details, '{}'::jsonb), completed_at = clock_timestamp(),
        duration_ms = (extract(epoch from clock_timestamp() - started_at) * 1000)::bigint
    where id = p_id
    returning 1)
  select to_jsonb(exists (select 1 from done));
$$;

-- Starts a backup run (or finds the one with that id, to resume it) and its backup_logs row.
create or replace function public.tenant_backup_run_start(
  p_backup_id text, p_org text, p_date date, p_type text, p_log_type text
) returns jsonb
language plpgsql
volatile
set search_path = pg_catalog
as $$
declare
  v_run public.tenant_backup_runs;
  v_log_id bigint;
begin
  select * into v_run from public.tenant_backup_runs where backup_id = p_backup_id;
  if v_run.backup_id is null then
    insert into public.backup_logs (organization_id, backup_type, status, backup_date, backup_id)
    values (p_org, p_log_type, 'running', p_date, p_backup_id)
    returning id into v_log_id;
    insert into public.tenant_backup_runs (backup_id, organization_id, backup_date, backup_type, status, log_id)
    values (p_backup_id, p_org, p_date, p_type, 'running', v_log_id)
    returning * into v_run;
  end if;
  return to_jsonb(v_run);
end;
$$;

create or replace function public.tenant_backup_run_progress(p_backup_id text, p_progress jsonb) returns jsonb
language sql
volatile
set search_path = pg_catalog
as $$
  with updated as (
    update public.tenant_backup_runs set progress = p_progress, updated_at = clock_timestamp()
    where backup_id = p_backup_id and status = 'running'
    returning 1)
  select to_jsonb(exists (select 1 from updated));
$$;

-- Ends a run as completed or failed, and its backup_logs row with it.
create or replace function public.tenant_backup_run_finish(
  p_backup_id text, p_status text, p_summary_path text, p_records bigint, p_bytes bigint, p_tables integer,
  p_error text, p_details jsonb
) returns jsonb
language plpgsql
volatile
set search_path = pg_catalog
as $$
declare
  v_run public.tenant_backup_runs;
begin
  if p_status not in ('completed', 'failed') then
    raise exception using errcode = '22023', message = 'p_status must be completed or failed';
  end if;
  update public.tenant_backup_runs
  set status = p_status, summary_path = p_summary_path, records_count = p_records, file_size = p_bytes,
      error_message = p_error, updated_at = clock_timestamp(), completed_at = clock_timestamp()
  where backup_id = p_backup_id
  returning * into v_run;
  if v_run.backup_id is null then
    raise exception using errcode = 'P0002', message = format('no backup run %s', p_backup_id);
  end if;
  perform public.tenant_backup_log_finish(v_run.log_id, p_status, p_records, p_error, p_details, p_bytes, p_tables);
  return to_jsonb(v_run);
end;
$$;

-- The runs of one UTC day (optionally of one type), for deciding what the daily job still has to do.
create or replace function public.tenant_backup_runs_on(p_date date, p_type text default null) returns jsonb
language sql
stable
set search_path = pg_catalog
as $$
  select coalesce(jsonb_agg(to_jsonb(r) - 'progress' order by r.started_at), '[]'::jsonb)
  from public.tenant_backup_runs r
  where r.backup_date = p_date and (p_type is null or r.backup_type = p_type);
$$;

create or replace function public.tenant_backup_run_get(p_backup_id text) returns jsonb
language sql
stable
set search_path = pg_catalog
as $$
  select to_jsonb(r) from public.tenant_backup_runs r where r.backup_id = p_backup_id;
$$;

-- One tenant by id, or null. The id arrives as text and is cast to the root key's type, so the lookup uses
-- the primary key index; an id that cannot be cast (a word for a uuid key) is simply not found.
create or replace function public.tenant_backup_get_tenant(
  p_id text, p_root text default 'organizations', p_schema text default 'public'
) returns jsonb
language plpgsql
stable
set search_path = pg_catalog
as $$
declare
  v_root jsonb := public.tenant_backup_root(p_root, p_schema);
  v_result jsonb;
begin
  begin
    execute format('select jsonb_build_object(''id'', t.%1$I::text, ''name'', %2$s) from %3$I.%4$I t where t.%1$I = $1::%5$s',
                   v_root->>'key', v_root->>'name', p_schema, p_root, v_root->>'type')
      into v_result using p_id;
  exception when invalid_text_representation or numeric_value_out_of_range then
    return null;
  end;
  return v_result;
end;
$$;

-- A tenant's backup_logs rows, newest first, a page at a time (p_before_id: the last id of the previous page).
create or replace function public.tenant_backup_history(
  p_org text, p_limit integer default 50, p_before_id bigint default null
) returns jsonb
language sql
stable
set search_path = pg_catalog
as $$
  select coalesce(jsonb_agg(to_jsonb(l) order by l.id desc), '[]'::jsonb)
  from (
    select * from public.backup_logs
    where organization_id = p_org and (p_before_id is null or id < p_before_id)
    order by id desc
    limit least(greatest(p_limit, 1), 500)
  ) l;
$$;

-- Runs of earlier days that were cut off and never resumed (a daily run only continues today's) are
-- closed as failed, with their backup_logs rows, so that they stop looking under way and retention can
-- clear their files. Answers how many were closed.
create or replace function public.tenant_backup_runs_expire(p_before date) returns jsonb
language plpgsql
volatile
set search_path = pg_catalog
as $$
declare
  v_count integer;
begin
  with expired as (
    update public.tenant_backup_runs
    set status = 'failed', error_message = 'interrupted and not resumed on its day',
        updated_at = clock_timestamp(), completed_at = clock_timestamp()
    where status = 'running' and backup_date < p_before
    returning log_id)
  update public.backup_logs l
  set status = 'failed', error_message = 'interrupted and not resumed on its day', completed_at = clock_timestamp(),
      duration_ms = (extract(epoch from clock_timestamp() - l.started_at) * 1000)::bigint
  from expired e
  where l.id = e.log_id;
  get diagnostics v_count = row_count;
  return to_jsonb(v_count);
end;
$$;
