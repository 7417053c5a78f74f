-- Tenant backup: an undo point's id is claimed in the apply that captures it.
--
-- A new id is its millisecond and 16 random bits, so two calls can draw the same one at once. A restore
-- checked its undo point's id with a read before its apply; two restores of different tenants could both
-- pass that check. Both applies then captured under one id, and the undo point is read back by id and
-- table: one tenant's undo point could hold the other's rows, and storing (or failing) one cleared the
-- other's. A backup drawing the id of a capture not yet stored could likewise take it as its run's.
--
-- Now the apply claims the id, under an advisory lock on it, before it captures anything: it fails with
-- TB006, having changed nothing, when a run or another capture has the id, and the restore draws another.
-- The claim leaves a row of the capture (table '', page -2; no table has an empty name, and every read of
-- pages names its table), so that the id stays taken while the capture waits to be stored, even when it
-- holds no rows. A run takes the same lock before it is inserted, and is refused (23505, as when its id
-- is a run's) when a capture has the id and it is not that capture's own pre_restore backup.

-- The advisory lock of id p_id, held until the transaction ends: claims and run starts of one id in turn.
create or replace function public.tenant_backup_id_lock(p_id text) returns void
language sql
volatile
set search_path = pg_catalog
as $$ select pg_advisory_xact_lock(hashtextextended('tenant_backup_id ' || p_id, 0)) $$;

-- Claims id p_capture_id for the undo point of tenant p_org, or fails with TB006 when it is taken.
create or replace function public.tenant_backup_capture_claim(p_capture_id text, p_org text) returns void
language plpgsql
volatile
set search_path = pg_catalog
as $$
begin
  perform public.tenant_backup_id_lock(p_capture_id);
  if exists (select 1 from public.tenant_backup_runs where backup_id = p_capture_id)
     or exists (select 1 from public.tenant_backup_undo where capture_id = p_capture_id) then
    raise exception using errcode = 'TB006', message = format('the id %s is taken', p_capture_id);
  end if;
  insert into public.tenant_backup_undo (capture_id, organization_id, table_name, page, row_count, lines)
  values (p_capture_id, p_org, '', -2, 0, '');
end;
$$;

-- Before a run is inserted: its id must not be a capture's, unless the run is that capture stored.
create or replace function public.tenant_backup_run_id_free() returns trigger
language plpgsql
set search_path = pg_catalog
as $$
begin
  perform public.tenant_backup_id_lock(new.backup_id);
  if exists (select 1 from public.tenant_backup_undo
             where capture_id = new.backup_id
               and (organization_id <> new.organization_id or new.backup_type <> 'pre_restore')) then
    raise exception using errcode = '23505',
      message = format('the id %s is an undo point''s of another tenant or not yet stored', new.backup_id);
  end if;
  return new;
end;
$$;

drop trigger if exists tenant_backup_run_id_free on public.tenant_backup_runs;
create trigger tenant_backup_run_id_free before insert on public.tenant_backup_runs
  for each row execute function public.tenant_backup_run_id_free();

-- As before (see 20261203000100), claiming the capture's id first in a real restore.
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
  v_names text[] := public.tenant_backup_apply_order(v_catalog, p_spec);
  v_report jsonb;
  v_kept boolean;
  v_table jsonb;
begin
  if not p_dry_run then
    perform public.tenant_backup_capture_claim(p_capture_id, p_tenant);
    perform public.tenant_backup_apply_lock(v_catalog->>'schema', v_names);
    for v_table in select t from jsonb_array_elements(v_catalog->'tables') t where not (t->>'name' = any(v_names)) loop
      perform public.tenant_backup_apply_capture_table(p_plan_id, p_tenant, p_capture_id, v_table->>'name');
    end loop;
  end if;
  v_report := public.tenant_backup_apply_undo(p_restore_id, p_plan_id, p_tenant, p_spec, p_dry_run,
                                              case when not p_dry_run then p_capture_id end);
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

-- As before (see 20261202000600), claiming the capture's id first: a module import's capture.
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
  perform public.tenant_backup_capture_claim(p_capture_id, p_tenant);
  for v_table in select t from jsonb_array_elements(public.tenant_backup_plan_catalog(p_plan_id)->'tables') t loop
    -- Both buckets (by row number, by the bytes before the row) only grow along the export order, so
    -- their pairs, ranked, number the pages 0, 1, … in that order.
    execute format(
      'insert into public.tenant_backup_undo (capture_id, organization_id, table_name, page, row_count, lines)
       select $1, $2, $3, page - 1, count(*), string_agg(line, E''\n'' order by n)
       from (select line, n, dense_rank() over (order by (n - 1) / %1$s, (upto - octet_length(line) - 1) / 4194304) as page
             from (select line, n, sum(octet_length(line) + 1) over (order by n) as upto
                   from (select q.line, row_number() over () as n from (%2$s) q(line)) x) y) z
       group by page',
      v_rows, public.tenant_backup_export_query(p_plan_id, v_table->>'name', p_tenant, null)->>'query')
      using p_capture_id, p_tenant, v_table->>'name';
    select coalesce(sum(row_count), 0) into v_n from public.tenant_backup_undo
    where capture_id = p_capture_id and table_name = v_table->>'name';
    v_total := v_total + v_n;
  end loop;
  return v_total;
end;
$$;

select public.tenant_backup_restrict_functions(array[
  'tenant_backup_id_lock', 'tenant_backup_capture_claim', 'tenant_backup_run_id_free', 'tenant_backup_apply_live',
  'tenant_backup_apply_capture'
]);
