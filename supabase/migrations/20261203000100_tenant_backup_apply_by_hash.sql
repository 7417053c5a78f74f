-- Tenant backup: a restore that does less.
--
-- For a table with a primary key whose columns are the backup's (the usual case), the apply no longer turns
-- every staged line into a typed row and compares every column as text on both sides:
--   - rows are matched by the md5 of their line: the staged line on one side, the tenant's row exported as
--     the very line a backup stores on the other (same select list, same settings). A row whose line is
--     in the backup is equal and left alone; only the staged lines not found among the tenant's rows are
--     turned into typed rows (the rows to write), and only the tenant's rows whose line is not in the
--     backup are deleted or overwritten. When the tenant has no row in the table there is nothing to
--     compare: every staged line is written.
--   - the undo point of the table is built from what the comparison has at hand, in the table's export
--     order: the staged line of each equal row (the same text) and the exported line of each row the apply
--     replaces. A table the apply leaves exactly as it was keeps, as its undo entry, the restored backup's
--     own entry when the engine passes it (a chunked backup of the same tenant: same chunks, which
--     retention's mark and sweep keeps while any summary or pending undo point names them); it is stored
--     as page -1 of the capture, whose lines are that entry ({files: [...]}) as JSON.
-- Other tables (no primary key, or columns changed since the backup) go the way they went before, and are
-- captured whole. Tables the restore does not touch are captured whole under the lock, as before.

-- Staged pages and captured undo pages are written once and read once, within minutes: stored as they are,
-- not compressed (pglz cost several times the write itself, and they are dropped soon after).
alter table public.tenant_backup_stage alter column lines set storage external;
alter table public.tenant_backup_undo alter column lines set storage external;

-- Whether table p_table can be restored by hash from backup table p_spec: it has a primary key, and the
-- backup's columns are its stored columns, by name and type, in the same order (so that its exported
-- line and the backup's line of an equal row are the same text).
create or replace function public.tenant_backup_apply_by_hash_ok(p_table jsonb, p_spec jsonb) returns boolean
language sql
immutable
set search_path = pg_catalog
as $$
  select jsonb_typeof(p_table->'primary_key') = 'array'
     and jsonb_array_length(p_table->'primary_key') > 0
     and coalesce((select jsonb_agg(jsonb_build_array(c->>'name', c->>'type') order by o)
                   from jsonb_array_elements(p_table->'columns') with ordinality x(c, o)
                   where not coalesce((c->>'generated')::boolean, false)), '[]'::jsonb)
       = coalesce((select jsonb_agg(jsonb_build_array(c->>'name', c->>'type') order by o)
                   from jsonb_array_elements(p_spec->'columns') with ordinality x(c, o)), '[]'::jsonb)
     and not exists (select 1 from jsonb_array_elements_text(p_table->'primary_key') k
                     where not exists (select 1 from jsonb_array_elements(p_spec->'columns') c
                                       where c->>'name' = k));
$$;

-- Writes lines (text, ordered by n; the query p_lines answers columns line and n) as table p_table of undo
-- point p_capture_id of tenant p_tenant, in pages of at most tenant_backup_undo_page_rows() rows whose
-- text starts in the same 4 MB (as tenant_backup_apply_capture pages them). The page numbers grow along n
-- but are not consecutive (rows bucket × 100000 + bytes bucket: one sort less than ranking them), which is
-- all tenant_backup_undo_read needs. Answers the rows written.
create or replace function public.tenant_backup_undo_write(
  p_capture_id text, p_tenant text, p_table text, p_lines text
) returns bigint
language plpgsql
volatile
set search_path = pg_catalog
as $$
declare
  v_n bigint;
begin
  execute format(
    'insert into public.tenant_backup_undo (capture_id, organization_id, table_name, page, row_count, lines)
     select $1, $2, $3, page, count(*), string_agg(line, E''\n'' order by n)
     from (select line, n, ((n - 1) / %1$s) * 100000
                           + (sum(octet_length(line) + 1) over (order by n) - octet_length(line) - 1) / 4194304 as page
           from (%2$s) x) y
     group by page',
    public.tenant_backup_undo_page_rows(), p_lines)
    using p_capture_id, p_tenant, p_table;
  select coalesce(sum(row_count), 0) into v_n from public.tenant_backup_undo
  where capture_id = p_capture_id and table_name = p_table and page >= 0;
  return v_n;
end;
$$;

-- Captures tenant p_tenant's rows of table p_name of plan p_plan_id whole, as undo point p_capture_id (the
-- lines a backup of them stores, in its order). Answers the rows captured.
create or replace function public.tenant_backup_apply_capture_table(
  p_plan_id text, p_tenant text, p_capture_id text, p_name text
) returns bigint
language plpgsql
volatile
set search_path = pg_catalog
set datestyle = 'ISO, YMD'
set intervalstyle = 'postgres'
set timezone = 'UTC'
set extra_float_digits = 1
set bytea_output = 'hex'
as $$
begin
  return public.tenant_backup_undo_write(p_capture_id, p_tenant, p_name, format(
    'select q.line, row_number() over () as n from (%s) q(line)',
    public.tenant_backup_export_query(p_plan_id, p_name, p_tenant, null)->>'query'));
end;
$$;

-- The source phase of a table restored by hash (see the top of this file). Leaves, until commit:
--   p_src           the staged rows to write, typed (the rows the tenant lacks or has otherwise)
--   p_src_lines     every staged line with its md5 (h, line)
--   p_src_live      the tenant's rows, in export order: tb_n, tb_h (md5 of the line), the key columns,
--                   tb_line (the exported line, kept only for a row the backup does not have as it is)
-- With p_capture_id, also writes the table's undo point (see the top of this file; p_spec->'reuse', when
-- present, is the restored backup's entry for it). Answers tenant_backup_apply_source's answer with, as
-- tenant_backup_apply_compare answers, join, set and set_from, and by_hash true. TB004 when the staged rows
-- are not the backup's p_spec.row_count.
create or replace function public.tenant_backup_apply_hashed(
  p_restore_id text, p_plan_id text, p_tenant text, p_table jsonb, p_spec jsonb, p_src text, p_capture_id text
) returns jsonb
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
  v_name text := p_table->>'name';
  v_lines text := p_src || '_lines';
  v_live text := p_src || '_live';
  v_sql jsonb := public.tenant_backup_export_sql(p_plan_id, v_name);
  v_keys text := (select string_agg(format('t0.%I', k), ', ') from jsonb_array_elements_text(p_table->'primary_key') k);
  v_colnames text[];
  v_cols text;
  v_casts text;
  v_n bigint;
  v_any boolean;
  v_written bigint;
  v_replaced bigint := 0;
begin
  select array_agg(b->>'name' order by b.o), string_agg(format('%I', b->>'name'), ', ' order by b.o),
         string_agg(format('(x.r->>%s)::%s as %I', b.o - 1, b->>'type', b->>'name'), ', ' order by b.o)
    into v_colnames, v_cols, v_casts
  from jsonb_array_elements(p_spec->'columns') with ordinality as b(b, o);
  execute format(
    'select exists (select 1 from %s where %s)', v_sql->>'source', v_sql->>'filter') into v_any using p_tenant;
  if not v_any then
    -- Nothing to compare: every staged line is a row to write.
    execute format(
      'create temp table %I on commit drop as
       select %s from (select unnest(string_to_array(s.lines, E''\n''))::jsonb as r
                       from public.tenant_backup_stage s
                       where s.restore_id = $1 and s.table_name = $2) x',
      p_src, v_casts)
      using p_restore_id, v_name;
    get diagnostics v_n = row_count;
    v_written := v_n;
  else
    execute format(
      'create temp table %I on commit drop as
       select md5(l)::uuid as h, l as line
       from (select unnest(string_to_array(s.lines, E''\n'')) as l from public.tenant_backup_stage s
             where s.restore_id = $1 and s.table_name = $2) x',
      v_lines)
      using p_restore_id, v_name;
    get diagnostics v_n = row_count;
    if v_n > 5000 then
      execute format('analyze %I', v_lines);
    end if;
    -- The tenant's rows, each exported once: its line's md5 says whether the backup has it as it is.
    execute format(
      'create temp table %1$I on commit drop as
       select e.tb_n, e.tb_h, %2$s, case when s.h is null then e.tb_line end as tb_line
       from (select row_number() over () as tb_n, md5(q.tb_line)::uuid as tb_h, q.*
             from (select %3$s as tb_line, %4$s from %5$s where %6$s order by %7$s) q) e
       left join %8$I s on s.h = e.tb_h',
      v_live,
      (select string_agg(format('e.%I', k), ', ') from jsonb_array_elements_text(p_table->'primary_key') k),
      v_sql->>'line', v_keys, v_sql->>'source', v_sql->>'filter', v_sql->>'order', v_lines)
      using p_tenant;
    execute format('select count(*) from %I where tb_line is not null', v_live) into v_replaced;
    if v_n > 5000 then
      execute format('analyze %I', v_live);
    end if;
    execute format(
      'create temp table %I on commit drop as
       select %s from (select s.line::jsonb as r from %I s
                       where not exists (select 1 from %I l where l.tb_h = s.h)) x',
      p_src, v_casts, v_lines, v_live);
    get diagnostics v_written := row_count;
  end if;
  if v_n <> (p_spec->>'row_count')::bigint then
    raise exception using errcode = 'TB004',
      message = format('%s: %s rows staged, the backup has %s', v_name, v_n, p_spec->>'row_count');
  end if;
  if v_written > 5000 then
    execute format('analyze %I', p_src);
  end if;
  if p_capture_id is not null and v_any then
    if v_replaced = 0 and v_written = 0 and jsonb_typeof(p_spec->'reuse') = 'object' then
      -- Left exactly as it was: the restored backup's entry is this table's undo point.
      insert into public.tenant_backup_undo (capture_id, organization_id, table_name, page, row_count, lines)
      values (p_capture_id, p_tenant, v_name, -1, v_n, (p_spec->'reuse')::text);
    else
      perform public.tenant_backup_undo_write(p_capture_id, p_tenant, v_name, format(
        'select coalesce(l.tb_line, s.line) as line, l.tb_n as n
         from %I l left join %I s on l.tb_line is null and s.h = l.tb_h', v_live, v_lines));
    end if;
  end if;
  return jsonb_build_object('rows_in_backup', v_n, 'columns', v_cols, 'column_names', to_jsonb(v_colnames),
                            'by_hash', true, 'live', v_any)
         || public.tenant_backup_apply_compare(p_table, to_jsonb(v_colnames)) - 'cmp';
end;
$$;

-- tenant_backup_apply_rows for a table restored by hash (p_stats from tenant_backup_apply_hashed): every
-- row of p_src differs from the tenant's row of its key, if any, and the tenant's rows to replace are
-- those of p_src_live with a line. Same steps, modes and counts as tenant_backup_apply_rows.
create or replace function public.tenant_backup_apply_rows_hashed(
  p_step text, p_mode text, p_schema text, p_table jsonb, p_src text, p_stats jsonb, p_tenant text
) returns jsonb
language plpgsql
volatile
set search_path = pg_catalog
as $$
declare
  v_name text := p_table->>'name';
  v_scope text := p_table->>'scope';
  v_cols text := p_stats->>'columns';
  v_live text := p_src || '_live';
  v_live_join text := (select string_agg(format('t0.%1$I = g.%1$I', k), ' and ')
                       from jsonb_array_elements_text(p_table->'primary_key') k);
  v_src_join text := (select string_agg(format('g.%1$I = s.%1$I', k), ' and ')
                      from jsonb_array_elements_text(p_table->'primary_key') k);
  v_n bigint := 0;
  v_updated bigint;
begin
  -- The app's triggers fire in mode "triggers": they get the session's search_path (as in
  -- tenant_backup_apply_rows). Restored at this function's exit.
  if p_mode = 'triggers' then
    perform set_config('search_path', concat_ws(', ', 'pg_catalog',
      nullif((select reset_val from pg_settings where name = 'search_path'), '')), true);
  end if;
  if p_step = 'delete' then
    if not (p_stats->>'live')::boolean then
      return p_stats || jsonb_build_object('deleted', 0, 'updated', coalesce((p_stats->>'updated')::bigint, 0));
    end if;
    if p_mode = 'replica' then
      -- Every row to replace goes, those the backup has otherwise too: they are written back whole.
      execute format('select count(*) from %I g join %I s on %s where g.tb_line is not null', v_live, p_src, v_src_join)
        into v_updated;
      execute format('delete from %I.%I t0 using %I g where g.tb_line is not null and %s and %s',
                     p_schema, v_name, v_live, v_live_join, v_scope) using p_tenant;
      get diagnostics v_n = row_count;
      return p_stats || jsonb_build_object('deleted', v_n - v_updated, 'updated', v_updated);
    end if;
    execute format('delete from %I.%I t0 using %I g where g.tb_line is not null and %s and %s
                    and not exists (select 1 from %I s where %s)',
                   p_schema, v_name, v_live, v_live_join, v_scope, p_src, v_src_join) using p_tenant;
    get diagnostics v_n = row_count;
    return p_stats || jsonb_build_object('deleted', v_n);
  end if;
  if p_mode = 'replica' then
    v_updated := coalesce((p_stats->>'updated')::bigint, 0);
    execute format('insert into %I.%I (%s) overriding system value select %s from %I',
                   p_schema, v_name, v_cols, v_cols, p_src);
    get diagnostics v_n = row_count;
    return p_stats || jsonb_build_object('inserted', v_n - v_updated);
  end if;
  v_updated := 0;
  if p_stats->>'set' is not null and (p_stats->>'live')::boolean then
    execute format('update %I.%I t0 set (%s) = row(%s) from %I s where %s and %s',
                   p_schema, v_name, p_stats->>'set', p_stats->>'set_from', p_src, p_stats->>'join', v_scope)
      using p_tenant;
    get diagnostics v_updated = row_count;
  end if;
  -- A key held by a row outside the tenant's scope is not skipped: the insert then fails on it.
  execute format('insert into %I.%I (%s) overriding system value
                  select %s from %I s where not exists (select 1 from %I.%I t0 where %s and %s)',
                 p_schema, v_name, v_cols, v_cols, p_src, p_schema, v_name, p_stats->>'join', v_scope)
    using p_tenant;
  get diagnostics v_n = row_count;
  return p_stats || jsonb_build_object('updated', v_updated, 'inserted', v_n);
end;
$$;

-- tenant_backup_apply with, for a real restore, the undo point of the restored tables taken on the way
-- (p_capture_id; null for none): the tables restored by hash as above, the others captured whole before
-- anything changes; in replica mode the keys kept to find those a restore makes disappear are, for a
-- table restored by hash, only those of the rows it replaces. Same answer; the timings add "undo" (the
-- whole-table captures). Called by
-- tenant_backup_apply and tenant_backup_apply_live, whose owner's rights and statement timeout it runs under.
create or replace function public.tenant_backup_apply_undo(
  p_restore_id text, p_plan_id text, p_tenant text, p_spec jsonb, p_dry_run boolean, p_capture_id text
) returns jsonb
language plpgsql
volatile
set search_path = pg_catalog
as $$
declare
  v_catalog jsonb := public.tenant_backup_plan_catalog(p_plan_id);
  v_schema text := v_catalog->>'schema';
  v_names text[] := public.tenant_backup_apply_order(v_catalog, p_spec);
  v_mode jsonb := public.tenant_backup_apply_mode(coalesce(p_spec->>'mode', 'auto'), v_schema, v_names);
  v_refuse_dropped boolean := not p_dry_run and not coalesce((p_spec->>'allow_dropped_columns')::boolean, false);
  v_warnings jsonb := v_mode->'warnings';
  v_report jsonb := '{}'::jsonb;
  v_timings jsonb := '{}'::jsonb;
  v_clock timestamptz;
  v_table jsonb;
  v_spec jsonb;
  v_stats jsonb;
  v_fk jsonb;
  v_name text; v_step text; v_i int;
  v_error jsonb;
  v_state text; v_msg text; v_detail text; v_hint text; v_err_table text; v_err_constraint text; v_context text;
begin
  begin
    for v_i in 1 .. cardinality(v_names) loop
      v_table := public.tenant_backup_plan_table(v_catalog, v_names[v_i]);
      select s into v_spec from jsonb_array_elements(p_spec->'tables') s where s->>'name' = v_names[v_i];
      v_warnings := v_warnings || public.tenant_backup_apply_dropped(v_table, v_spec, v_refuse_dropped);
      v_clock := clock_timestamp();
      if public.tenant_backup_apply_by_hash_ok(v_table, v_spec) then
        v_stats := public.tenant_backup_apply_hashed(p_restore_id, p_plan_id, p_tenant, v_table, v_spec,
                                                      'tb_src_' || v_i, p_capture_id);
        v_timings := public.tenant_backup_add_ms(v_timings, 'stage_to_rows', v_clock);
      else
        if p_capture_id is not null then
          perform public.tenant_backup_apply_capture_table(p_plan_id, p_tenant, p_capture_id, v_names[v_i]);
          v_timings := public.tenant_backup_add_ms(v_timings, 'undo', v_clock);
        end if;
        v_clock := clock_timestamp();
        v_stats := public.tenant_backup_apply_source(p_restore_id, v_table, v_spec, 'tb_src_' || v_i);
        v_timings := public.tenant_backup_add_ms(v_timings, 'stage_to_rows', v_clock);
        v_clock := clock_timestamp();
        v_stats := v_stats || public.tenant_backup_apply_compare(v_table, v_stats->'column_names');
        v_timings := public.tenant_backup_add_ms(v_timings, 'compare', v_clock);
      end if;
      v_report := v_report || jsonb_build_object(v_names[v_i], v_stats);
    end loop;
    for v_fk in select f from jsonb_array_elements(v_catalog->'foreign_keys') f where f->>'ref_table' = any(v_names) loop
      v_clock := clock_timestamp();
      v_stats := v_report->(v_fk->>'ref_table');
      if v_mode->>'mode' = 'replica' and (v_stats->>'by_hash')::boolean
         and (select array_agg(x order by x) from jsonb_array_elements_text(v_fk->'ref_columns') x)
           = (select array_agg(x order by x) from jsonb_array_elements_text(
                public.tenant_backup_plan_table(v_catalog, v_fk->>'ref_table')->'primary_key') x) then
        -- A key can disappear only with a row the restore replaces: those are all the keys to keep (none
        -- when the table was empty).
        execute format('create temp table if not exists %I on commit drop as select %s from %s',
          'tb_old_' || md5((v_fk->>'name') || (v_fk->>'table')),
          (select string_agg(format('g.%I', r), ', ') from jsonb_array_elements_text(v_fk->'ref_columns') r),
          case when (v_stats->>'live')::boolean
               then format('%I g where g.tb_line is not null', 'tb_src_' || array_position(v_names, v_fk->>'ref_table') || '_live')
               else format('%I.%I g where false', v_schema, v_fk->>'ref_table') end);
      else
        perform public.tenant_backup_apply_old_keys(v_catalog, v_fk, v_names, v_mode->>'mode', p_tenant,
                                                    'tb_old_' || md5((v_fk->>'name') || (v_fk->>'table')));
      end if;
      v_timings := public.tenant_backup_add_ms(v_timings, 'old_keys', v_clock);
    end loop;
    for v_step in select unnest(case when v_mode->>'mode' = 'replica' then array['delete', 'write'] else array['write', 'delete'] end) loop
      for v_i in 1 .. cardinality(v_names) loop
        v_name := v_names[case when v_step = 'delete' then cardinality(v_names) + 1 - v_i else v_i end];
        v_clock := clock_timestamp();
        if (v_report->v_name->>'by_hash')::boolean then
          v_report := v_report || jsonb_build_object(v_name, public.tenant_backup_apply_rows_hashed(
            v_step, v_mode->>'mode', v_schema, public.tenant_backup_plan_table(v_catalog, v_name),
            'tb_src_' || array_position(v_names, v_name), v_report->v_name, p_tenant));
        else
          v_report := v_report || jsonb_build_object(v_name, public.tenant_backup_apply_rows(
            v_step, v_mode->>'mode', v_schema, public.tenant_backup_plan_table(v_catalog, v_name),
            'tb_src_' || array_position(v_names, v_name), v_report->v_name, p_tenant));
        end if;
        v_timings := public.tenant_backup_add_ms(v_timings, v_step, v_clock);
      end loop;
    end loop;
    for v_fk in select f from jsonb_array_elements(v_catalog->'foreign_keys') f
                where f->>'table' = any(v_names) or f->>'ref_table' = any(v_names) loop
      v_clock := clock_timestamp();
      perform public.tenant_backup_apply_check_fk(v_schema, v_fk, v_names,
                                                  'tb_old_' || md5((v_fk->>'name') || (v_fk->>'table')));
      v_timings := public.tenant_backup_add_ms(v_timings, 'foreign_keys', v_clock);
    end loop;
    perform public.tenant_backup_apply_sequences(v_catalog, v_names);
    if p_dry_run then
      raise exception using errcode = 'TB001', message = 'dry run: rolled back';
    end if;
  exception
    when sqlstate 'TB001' then
      null;
    when others then
      get stacked diagnostics v_state = returned_sqlstate, v_msg = message_text, v_detail = pg_exception_detail,
                              v_hint = pg_exception_hint, v_err_table = table_name, v_err_constraint = constraint_name,
                              v_context = pg_exception_context;
      v_error := public.tenant_backup_apply_error(v_state, v_msg, v_detail, v_hint, v_err_table, v_err_constraint, v_context);
  end;
  return jsonb_build_object('success', v_error is null, 'dry_run', p_dry_run, 'mode', v_mode->>'mode',
    'tables', public.tenant_backup_apply_counts(v_report), 'warnings', v_warnings, 'timings_ms', v_timings,
    'error', v_error);
end;
$$;

-- The apply without an undo point (a dry run, with or without rules): the same statements.
create or replace function public.tenant_backup_apply(
  p_restore_id text, p_plan_id text, p_tenant text, p_spec jsonb, p_dry_run boolean
) returns jsonb
language sql
volatile
security definer
set search_path = pg_catalog
set statement_timeout = '55s'
as $$
  select public.tenant_backup_apply_undo(p_restore_id, p_plan_id, p_tenant, p_spec, p_dry_run, null);
$$;

-- As before (see 20261201000050), except that the undo point of the restored tables is taken by the apply
-- itself, from the rows it compares: here, under the lock, only the tenant tables the restore leaves alone
-- are captured whole.
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

-- The page of table p_table of undo point p_capture_id that holds its row p_after + 1, as before (see
-- 20261202000600); a table kept as the restored backup's entry (page -1) has no pages to read.
create or replace function public.tenant_backup_undo_read(p_capture_id text, p_table text, p_after bigint)
returns jsonb
language sql
stable
set search_path = pg_catalog
as $$
  with pages as (
    select page, row_count, sum(row_count) over (order by page) - row_count as before,
           max(page) over () as last
    from public.tenant_backup_undo where capture_id = p_capture_id and table_name = p_table and page >= 0
  ), hit as (
    select page, before, last from pages
    where before <= coalesce(p_after, 0) and coalesce(p_after, 0) < before + row_count
  )
  select coalesce(
    (select jsonb_build_object('first', h.before, 'rows', u.row_count, 'lines', u.lines, 'done', h.page = h.last)
     from hit h join public.tenant_backup_undo u
       on u.capture_id = p_capture_id and u.table_name = p_table and u.page = h.page),
    jsonb_build_object('first', coalesce(p_after, 0), 'rows', 0, 'lines', '', 'done', true));
$$;

-- The tables of tenant p_org's captured undo points (not yet stored) kept as a restored backup's entry:
-- [{capture_id, table, rows, entry ({files: [...]})}]. Their chunks stay stored while listed here.
create or replace function public.tenant_backup_undo_reused(p_org text) returns jsonb
language sql
stable
set search_path = pg_catalog
as $$
  select coalesce(jsonb_agg(jsonb_build_object('capture_id', capture_id, 'table', table_name,
                                               'rows', row_count, 'entry', lines::jsonb)
                            order by capture_id, table_name), '[]'::jsonb)
  from public.tenant_backup_undo where organization_id = p_org and page = -1;
$$;

select public.tenant_backup_restrict_functions(array[
  'tenant_backup_apply_by_hash_ok', 'tenant_backup_undo_write', 'tenant_backup_apply_capture_table',
  'tenant_backup_apply_hashed', 'tenant_backup_apply_rows_hashed', 'tenant_backup_apply_undo',
  'tenant_backup_apply', 'tenant_backup_apply_live', 'tenant_backup_undo_read', 'tenant_backup_undo_reused']);

-- The rows of table p_table of undo point p_capture_id after its first p_after, one line each in export
-- order, as one query for the direct path's COPY (its literals written in): {query, settings}. Streamed,
-- they need no JSON answer per page.
create or replace function public.tenant_backup_undo_query(p_capture_id text, p_table text, p_after bigint)
returns jsonb
language sql
immutable
set search_path = pg_catalog
as $$
  select jsonb_build_object(
    'query', format(
      'select x.line from public.tenant_backup_undo u
         cross join lateral unnest(string_to_array(u.lines, E''\n'')) with ordinality as x(line, i)
       where u.capture_id = %L and u.table_name = %L and u.page >= 0
       order by u.page, x.i offset %s',
      p_capture_id, p_table, greatest(coalesce(p_after, 0), 0)),
    'settings', '{}'::jsonb);
$$;

select public.tenant_backup_restrict_functions(array['tenant_backup_undo_query']);
