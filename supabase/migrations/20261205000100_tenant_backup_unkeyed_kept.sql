-- Tenant backup: a table without a primary key that the restore would leave as it is, left alone.
--
-- Such a table has no key to compare rows by, so a restore replaced its rows whole: it copied all of them
-- into the undo point, deleted them, and wrote the backup's back, even when they were the same. Now the
-- tenant's rows of it are first compared with the backup's as a whole: each exported as its backup line
-- (the same text a backup writes), and the md5 of every line counted on both sides. When both sides hold
-- the same lines the same number of times, the table is left alone: nothing is deleted or written, and its
-- undo point is the restored backup's own entry (the backup's chunks) or, when that cannot be named, the
-- staged lines. Otherwise it is restored as before.

-- The stats of table p_table (a catalog entry with its schema) of restore p_restore_id when the table has
-- no primary key, the backup's columns are its stored columns, and the tenant p_tenant has in it exactly
-- the rows the backup has (as multisets of lines): the apply then leaves it as it is ('kept'), and p_src
-- names no rows (for the foreign key checks that read it). Null otherwise, and nothing done.
create or replace function public.tenant_backup_apply_unkeyed_kept(
  p_restore_id text, p_tenant text, p_table jsonb, p_spec jsonb, p_src text, p_capture_id text
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
  v_sql jsonb;
  v_colnames text[];
  v_cols text;
  v_casts text;
  v_staged bigint;
  v_live bigint;
  v_same boolean;
begin
  if jsonb_typeof(p_table->'primary_key') = 'array' and jsonb_array_length(p_table->'primary_key') > 0 then
    return null;
  end if;
  -- The backup's columns must be the table's stored columns, in order and of the same types: only then
  -- are the tenant's rows exported as lines comparable with the backup's lines.
  if coalesce((select jsonb_agg(jsonb_build_array(c->>'name', c->>'type') order by o)
               from jsonb_array_elements(p_table->'columns') with ordinality x(c, o)
               where not coalesce((c->>'generated')::boolean, false)), '[]'::jsonb)
     <> coalesce((select jsonb_agg(jsonb_build_array(c->>'name', c->>'type') order by o)
                  from jsonb_array_elements(p_spec->'columns') with ordinality x(c, o)), '[]'::jsonb) then
    return null;
  end if;
  v_sql := public.tenant_backup_export_sql_of(p_table->>'schema', p_table, null);
  -- Rows added or removed (the tenant emptied, say): not the same, and no line need be hashed to know it.
  execute format('select count(*) from %s where %s', v_sql->>'source', v_sql->>'filter') into v_live using p_tenant;
  if v_live <> (p_spec->>'row_count')::bigint then
    return null;
  end if;
  execute format(
    'with s as (select md5(x.line) as h from public.tenant_backup_stage st
                cross join lateral unnest(string_to_array(st.lines, E''\n'')) as x(line)
                where st.restore_id = $2 and st.table_name = $3),
          l as (select md5(%s) as h from %s where %s)
     select (select count(*) from s), (select count(*) from l),
            not exists (select h from s except all select h from l)',
    v_sql->>'line', v_sql->>'source', v_sql->>'filter')
    into v_staged, v_live, v_same using p_tenant, p_restore_id, v_name;
  if v_staged <> (p_spec->>'row_count')::bigint then
    raise exception using errcode = 'TB004',
      message = format('%s: %s rows staged, the backup has %s', v_name, v_staged, p_spec->>'row_count');
  end if;
  -- As many rows on each side, and every staged line among the tenant's as often: the same multiset.
  if v_staged <> v_live or not v_same then
    return null;
  end if;
  select array_agg(b->>'name' order by b.o), string_agg(format('%I', b->>'name'), ', ' order by b.o),
         string_agg(format('(x.r->>%s)::%s as %I', b.o - 1, b->>'type', b->>'name'), ', ' order by b.o)
    into v_colnames, v_cols, v_casts
  from jsonb_array_elements(p_spec->'columns') with ordinality as b(b, o);
  if to_regclass('pg_temp.tb_none') is null then
    create temp table tb_none (r jsonb) on commit drop;
  end if;
  execute format('create temp view %I as select %s from (select r from tb_none where false) x', p_src, v_casts);
  if p_capture_id is not null and v_live > 0 then
    if jsonb_typeof(p_spec->'reuse') = 'object' then
      -- Left exactly as it was: the restored backup's entry is this table's undo point.
      insert into public.tenant_backup_undo (capture_id, organization_id, table_name, page, row_count, lines)
      values (p_capture_id, p_tenant, v_name, -1, v_staged, (p_spec->'reuse')::text);
    else
      perform public.tenant_backup_undo_write(p_capture_id, p_tenant, v_name, format(
        'select x.line, row_number() over (order by s.page, x.i) as n
         from public.tenant_backup_stage s
         cross join lateral unnest(string_to_array(s.lines, E''\n'')) with ordinality as x(line, i)
         where s.restore_id = %L and s.table_name = %L', p_restore_id, v_name));
    end if;
  end if;
  return jsonb_build_object('rows_in_backup', v_staged, 'columns', v_cols, 'column_names', to_jsonb(v_colnames),
                            'kept', true, 'deleted', 0, 'inserted', 0);
end;
$$;

-- As before (see 20261204000200), with a table without a primary key that the restore would leave as it
-- is left alone (tenant_backup_apply_unkeyed_kept): no undo copy of its rows, nothing deleted or written.
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
  v_tables jsonb[];
  v_specs jsonb[];
  v_stats jsonb[] := '{}';
  v_timings jsonb := '{}'::jsonb;
  v_clock timestamptz;
  v_table jsonb;
  v_spec jsonb;
  v_stat jsonb;
  v_fk jsonb;
  v_step text; v_i int; v_j int;
  v_error jsonb;
  v_state text; v_msg text; v_detail text; v_hint text; v_err_table text; v_err_constraint text; v_context text;
begin
  -- tenant_backup_apply_order refuses a spec naming a table twice or one the plan does not have: every
  -- name has exactly one entry and one spec.
  select array_agg(c.t || jsonb_build_object('schema', v_schema) order by n.o), array_agg(s.s order by n.o)
    into v_tables, v_specs
  from unnest(v_names) with ordinality as n(name, o)
  join jsonb_array_elements(v_catalog->'tables') as c(t) on c.t->>'name' = n.name
  join jsonb_array_elements(p_spec->'tables') as s(s) on s.s->>'name' = n.name;
  begin
    for v_i in 1 .. cardinality(v_names) loop
      v_table := v_tables[v_i];
      v_spec := v_specs[v_i];
      v_warnings := v_warnings || public.tenant_backup_apply_dropped(v_table, v_spec, v_refuse_dropped);
      v_clock := clock_timestamp();
      if public.tenant_backup_apply_by_hash_ok(v_table, v_spec) then
        v_stat := public.tenant_backup_apply_hashed(p_restore_id, p_plan_id, p_tenant, v_table, v_spec,
                                                     'tb_src_' || v_i, p_capture_id);
        v_timings := public.tenant_backup_add_ms(v_timings, 'stage_to_rows', v_clock);
      else
        v_stat := public.tenant_backup_apply_unkeyed_kept(p_restore_id, p_tenant, v_table, v_spec,
                                                          'tb_src_' || v_i, p_capture_id);
        if v_stat is not null then
          v_timings := public.tenant_backup_add_ms(v_timings, 'compare', v_clock);
        else
          if p_capture_id is not null then
            perform public.tenant_backup_apply_capture_table(p_plan_id, p_tenant, p_capture_id, v_names[v_i]);
            v_timings := public.tenant_backup_add_ms(v_timings, 'undo', v_clock);
          end if;
          v_clock := clock_timestamp();
          v_stat := public.tenant_backup_apply_source(p_restore_id, v_table, v_spec, 'tb_src_' || v_i);
          v_timings := public.tenant_backup_add_ms(v_timings, 'stage_to_rows', v_clock);
          v_clock := clock_timestamp();
          v_stat := v_stat || public.tenant_backup_apply_compare(v_table, v_stat->'column_names');
          v_timings := public.tenant_backup_add_ms(v_timings, 'compare', v_clock);
        end if;
      end if;
      v_stats[v_i] := v_stat;
    end loop;
    for v_fk in select f from jsonb_array_elements(v_catalog->'foreign_keys') f where f->>'ref_table' = any(v_names) loop
      v_clock := clock_timestamp();
      v_i := array_position(v_names, v_fk->>'ref_table');
      v_table := v_tables[v_i];
      v_stat := v_stats[v_i];
      if v_mode->>'mode' = 'replica' and (v_stat->>'by_hash')::boolean
         and (select array_agg(x order by x) from jsonb_array_elements_text(v_fk->'ref_columns') x)
           = (select array_agg(x order by x) from jsonb_array_elements_text(v_table->'primary_key') x) then
        -- A key can disappear only with a row the restore replaces: those are all the keys to keep (none
        -- without p_src_live). The view goes at commit with the temp relation it reads.
        execute format('create or replace temp view %I as select %s from %I g where %s',
          'tb_old_' || md5((v_fk->>'name') || (v_fk->>'table')),
          (select string_agg(format('g.%I', r), ', ') from jsonb_array_elements_text(v_fk->'ref_columns') r),
          'tb_src_' || v_i || case when (v_stat->>'live')::boolean then '_live' else '' end,
          case when (v_stat->>'live')::boolean then 'g.tb_line is not null' else 'false' end);
      else
        perform public.tenant_backup_apply_old_keys(v_catalog, v_fk, v_names, v_mode->>'mode', p_tenant,
                                                    'tb_old_' || md5((v_fk->>'name') || (v_fk->>'table')));
      end if;
      v_timings := public.tenant_backup_add_ms(v_timings, 'old_keys', v_clock);
    end loop;
    for v_step in select unnest(case when v_mode->>'mode' = 'replica' then array['delete', 'write'] else array['write', 'delete'] end) loop
      for v_j in 1 .. cardinality(v_names) loop
        v_i := case when v_step = 'delete' then cardinality(v_names) + 1 - v_j else v_j end;
        v_clock := clock_timestamp();
        v_table := v_tables[v_i];
        v_stat := v_stats[v_i];
        if (v_stat->>'kept')::boolean then
          -- Left as it is: nothing to delete or write.
          null;
        elsif (v_stat->>'by_hash')::boolean then
          v_stat := public.tenant_backup_apply_rows_hashed(v_step, v_mode->>'mode', v_schema, v_table,
                                                            'tb_src_' || v_i, v_stat, p_tenant);
        else
          v_stat := public.tenant_backup_apply_rows(v_step, v_mode->>'mode', v_schema, v_table,
                                                     'tb_src_' || v_i, v_stat, p_tenant);
        end if;
        v_stats[v_i] := v_stat;
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
  -- The tables reached before a failure, as before.
  return jsonb_build_object('success', v_error is null, 'dry_run', p_dry_run, 'mode', v_mode->>'mode',
    'tables', public.tenant_backup_apply_counts(
      (select coalesce(jsonb_object_agg(n.name, s.stat), '{}'::jsonb)
       from unnest(v_names) with ordinality as n(name, o)
       join unnest(v_stats) with ordinality as s(stat, o) on s.o = n.o
       where s.stat is not null)),
    'warnings', v_warnings, 'timings_ms', v_timings, 'error', v_error);
end;
$$;

select public.tenant_backup_restrict_functions(array[
  'tenant_backup_apply_unkeyed_kept', 'tenant_backup_apply_undo']);
