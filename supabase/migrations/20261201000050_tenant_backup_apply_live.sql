-- Tenant backup: a restore that loses none of the app's writes, and whose commit leaves nothing behind.
--
-- tenant_backup_apply_live runs a restore's apply in one transaction that, for a real restore, also:
--   1. locks the restored tables against writes (SHARE ROW EXCLUSIVE: reads go on, writes wait) for the
--      apply's short duration, so that no write lands between what the undo point holds and what the
--      apply replaces. Writes of every tenant to those tables wait until the commit; a lock it cannot take
--      within 10 s (55P03) refuses the restore with nothing changed.
--   2. captures the tenant's rows of every tenant table into tenant_backup_undo, in the backup's own line
--      format: the undo point. The restored tables are captured as they are under that lock, the others
--      (which the apply does not change) as each read finds them. After the commit the engine writes the
--      capture out as the pre_restore backup and drops it.
-- Then, dry run or not, it applies (tenant_backup_apply), closes the restore's backup_logs row, frees the
-- tenant's lease and clears the staged rows, so that a commit leaves no running log row, lease or staging.

-- The undo points captured inside applies, one page of lines per row, until exported to storage.
create table if not exists public.tenant_backup_undo (
  capture_id text not null,
  organization_id text not null,
  table_name text not null,
  page integer not null,
  row_count integer not null,
  lines text not null,
  created_at timestamptz not null default now(),
  primary key (capture_id, table_name, page)
);
alter table public.tenant_backup_undo enable row level security;
do $$
begin
  revoke all on table public.tenant_backup_undo from public;
  if exists (select 1 from pg_roles where rolname = 'anon') then
    revoke all on table public.tenant_backup_undo from anon;
  end if;
  if exists (select 1 from pg_roles where rolname = 'authenticated') then
    revoke all on table public.tenant_backup_undo from authenticated;
  end if;
  if exists (select 1 from pg_roles where rolname = 'service_role') then
    grant select, insert, update, delete on table public.tenant_backup_undo to service_role;
  end if;
end;
$$;

-- Rows per captured page: the pages the undo export reads back, one per call through the API.
create or replace function public.tenant_backup_undo_page_rows() returns integer
language sql
immutable
set search_path = pg_catalog
as $$ select 5000 $$;

-- Locks tables p_names of schema p_schema against writes until the transaction ends, parents first.
-- Waits at most 10 s for writes in flight (55P03 then).
create or replace function public.tenant_backup_apply_lock(p_schema text, p_names text[]) returns void
language plpgsql
volatile
set search_path = pg_catalog
set lock_timeout = '10s'
as $$
declare
  v_name text;
begin
  foreach v_name in array p_names loop
    execute format('lock table %I.%I in share row exclusive mode', p_schema, v_name);
  end loop;
end;
$$;

-- Captures tenant p_tenant's rows of every table of plan p_plan_id as undo point p_capture_id: the very
-- lines a backup of them stores, in the backup's order, in pages of tenant_backup_undo_page_rows().
-- Answers the rows captured.
create or replace function public.tenant_backup_apply_capture(p_plan_id text, p_tenant text, p_capture_id text)
returns bigint
language plpgsql
volatile
set search_path = pg_catalog
set datestyle = 'ISO, YMD'
set intervalstyle = 'postgres'
set timezone = 'UTC'
set extra_float_digits = 1
set bytea_output = 'hex'
as $$
declare
  v_table jsonb;
  v_rows integer := public.tenant_backup_undo_page_rows();
  v_n bigint;
  v_total bigint := 0;
begin
  for v_table in select t from jsonb_array_elements(public.tenant_backup_plan_catalog(p_plan_id)->'tables') t loop
    execute format(
      'insert into public.tenant_backup_undo (capture_id, organization_id, table_name, page, row_count, lines)
       select $1, $2, $3, (n - 1) / %1$s, count(*), string_agg(line, E''\n'' order by n)
       from (select q.line, row_number() over () as n from (%2$s) q(line)) x group by (n - 1) / %1$s',
      v_rows, public.tenant_backup_export_query(p_plan_id, v_table->>'name', p_tenant, null)->>'query')
      using p_capture_id, p_tenant, v_table->>'name';
    select coalesce(sum(row_count), 0) into v_n from public.tenant_backup_undo
    where capture_id = p_capture_id and table_name = v_table->>'name';
    v_total := v_total + v_n;
  end loop;
  return v_total;
end;
$$;

-- Page p_page of table p_table of undo point p_capture_id: {rows, lines}, or rows 0 past the end.
create or replace function public.tenant_backup_undo_page(p_capture_id text, p_table text, p_page integer)
returns jsonb
language sql
stable
set search_path = pg_catalog
as $$
  select coalesce((select jsonb_build_object('rows', row_count, 'lines', lines) from public.tenant_backup_undo
                   where capture_id = p_capture_id and table_name = p_table and page = p_page),
                  jsonb_build_object('rows', 0, 'lines', ''));
$$;

-- Drops undo point p_capture_id once it is stored as a backup; answers the pages dropped.
create or replace function public.tenant_backup_undo_clear(p_capture_id text) returns jsonb
language sql
volatile
set search_path = pg_catalog
as $$
  with gone as (delete from public.tenant_backup_undo where capture_id = p_capture_id returning 1)
  select to_jsonb(count(*)) from gone;
$$;

-- The undo points of tenant p_org captured but not yet stored (oldest first): a call killed after its
-- apply committed leaves one, and the tenant's next restore stores it first.
create or replace function public.tenant_backup_undo_pending(p_org text) returns jsonb
language sql
stable
set search_path = pg_catalog
as $$
  select coalesce(jsonb_agg(capture_id order by created_at), '[]'::jsonb)
  from (select capture_id, min(created_at) as created_at from public.tenant_backup_undo
        where organization_id = p_org group by capture_id) c;
$$;

-- A restore's apply (see the top of this file). p_restore_id, p_plan_id, p_tenant, p_spec and p_dry_run as
-- for tenant_backup_apply; p_log_id the restore's running backup_logs row, p_holder the lease's holder,
-- p_capture_id the id of the undo point (the pre_restore backup's id). A dry run locks and captures
-- nothing. Answers tenant_backup_apply's answer; when the apply fails, nothing is captured and the tenant's
-- data is unchanged.
create or replace function public.tenant_backup_apply_live(
  p_restore_id text, p_plan_id text, p_tenant text, p_spec jsonb, p_dry_run boolean, p_log_id bigint,
  p_holder text, p_capture_id text
) returns jsonb
language plpgsql
volatile
security definer
set search_path = pg_catalog
set statement_timeout = '55s'
as $$
declare
  v_catalog jsonb := public.tenant_backup_plan_catalog(p_plan_id);
  v_report jsonb;
  v_kept boolean;
begin
  if not p_dry_run then
    perform public.tenant_backup_apply_lock(v_catalog->>'schema', public.tenant_backup_apply_order(v_catalog, p_spec));
    perform public.tenant_backup_apply_capture(p_plan_id, p_tenant, p_capture_id);
  end if;
  v_report := public.tenant_backup_apply(p_restore_id, p_plan_id, p_tenant, p_spec, p_dry_run);
  -- Data changed, and the capture kept as the undo point: a real restore that succeeded.
  v_kept := (v_report->>'success')::boolean and not p_dry_run;
  if not v_kept then
    perform public.tenant_backup_undo_clear(p_capture_id);
  end if;
  perform public.tenant_backup_log_finish(p_log_id,
    case when (v_report->>'success')::boolean then 'completed' else 'failed' end,
    case when v_kept then (select coalesce(sum((t->>'rows_in_backup')::bigint), 0)::bigint
                           from jsonb_each(v_report->'tables') e(k, t)) else 0 end,
    v_report->'error'->>'message',
    jsonb_build_object('undo_backup_id', case when v_kept then p_capture_id end, 'mode', v_report->'mode',
                       'warnings', v_report->'warnings', 'tables', v_report->'tables', 'error', v_report->'error'));
  perform public.tenant_backup_lock_release(p_tenant, p_holder);
  perform public.tenant_backup_stage_clear(p_restore_id);
  return v_report;
end;
$$;

select public.tenant_backup_restrict_functions(array[
  'tenant_backup_undo_page_rows', 'tenant_backup_apply_lock', 'tenant_backup_apply_capture',
  'tenant_backup_undo_page', 'tenant_backup_undo_clear', 'tenant_backup_undo_pending',
  'tenant_backup_apply_live']);
