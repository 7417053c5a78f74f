-- Tenant backup: a restore parses each changed row's line once, and keeps typed rows uncompressed.
--
-- Where the tenant has rows, tenant_backup_apply_hashed (20261207000200) types the staged lines the tenant
-- does not have as they are: select <one cast per column of x.r> from (select s.line::jsonb as r ...) x.
-- PostgreSQL pulls such a subquery up into the select and so parsed the line into jsonb once per column,
-- not once per row. On the bench's table of 200 columns (lines of about 5 kB), restoring 50,000 changed
-- rows took 357 s, 338 s of it typing them; with the subquery kept apart (OFFSET 0, which PostgreSQL never
-- pulls up) 43 s. The other places that type lines read them through unnest(), which is never pulled up.
--
-- Its temp tables of typed rows are created as the staging tables are (20261211000100): rows of up to a
-- page are not compressed on their way to the tenant's table, which compresses them as its storage says.
-- The same 50,000 rows: 31 s.

-- The query typing lines p_lines (h: the line's md5, line) whose md5 no row of p_live (tb_h) has:
-- p_casts, the columns' casts from x.r, the line as jsonb. Each line is parsed once (see above).
create or replace function public.tenant_backup_changed_rows_sql(p_casts text, p_lines text, p_live text)
returns text
language sql
stable
set search_path = pg_catalog
as $$
  select format(
    'select %s from (select s.line::jsonb as r from %I s
                     where not exists (select 1 from %I l where l.tb_h = s.h) offset 0) x',
    p_casts, p_lines, p_live);
$$;

-- As before (see 20261207000200), with the query above, and its temp tables of typed rows created
-- WITH (toast_tuple_target = 8160).
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
  v_sql jsonb := public.tenant_backup_export_sql_of(p_table->>'schema', p_table, null);
  v_typed text := public.tenant_backup_stage_typed_relation(p_restore_id, p_table->>'name');
  v_colnames text[];
  v_cols text;
  v_casts text;
  v_n bigint;
  v_any boolean;
  v_same boolean := false;
  v_written bigint;
  v_replaced bigint := 0;
  v_kept bigint;
begin
  select array_agg(b->>'name' order by b.o), string_agg(format('%I', b->>'name'), ', ' order by b.o),
         string_agg(format('(x.r->>%s)::%s as %I', b.o - 1, b->>'type', b->>'name'), ', ' order by b.o)
    into v_colnames, v_cols, v_casts
  from jsonb_array_elements(p_spec->'columns') with ordinality as b(b, o);
  execute format(
    'select exists (select 1 from %s where %s)', v_sql->>'source', v_sql->>'filter') into v_any using p_tenant;
  if v_typed is not null then
    select coalesce(sum(row_count), 0) into v_n from public.tenant_backup_stage
    where restore_id = p_restore_id and table_name = v_name;
  end if;
  if v_typed is null and v_any and (p_spec->>'row_count')::bigint <= 1000 then
    execute format(
      'select count(l.n), count(*) filter (where l.line is null or e.line is null or l.line <> e.line) = 0
       from (select x.line, row_number() over (order by s.page, x.i) as n
             from public.tenant_backup_stage s
             cross join lateral unnest(string_to_array(s.lines, E''\n'')) with ordinality as x(line, i)
             where s.restore_id = $2 and s.table_name = $3) l
       full join (select %s as line, row_number() over (order by %s) as n from %s where %s) e on e.n = l.n',
      v_sql->>'line', v_sql->>'order', v_sql->>'source', v_sql->>'filter')
      into v_n, v_same using p_tenant, p_restore_id, v_name;
  end if;
  if to_regclass('pg_temp.tb_none') is null then
    create temp table tb_none (r jsonb) on commit drop;
  end if;
  if v_same then
    execute format('create temp view %I as select %s from (select r from tb_none where false) x', p_src, v_casts);
    v_written := 0;
  elsif v_typed is not null and not v_any then
    -- Nothing to compare: the staged rows are the rows to write, read where they are.
    execute format('create temp view %I as select %s from %s where not exists (select from tb_none)',
                   p_src, v_cols, v_typed);
    v_written := v_n;
  elsif v_typed is not null then
    if v_n > 5000 then
      execute format('analyze %s (tb_h)', v_typed);
    end if;
    -- The tenant's rows, each exported once: its line's md5 says whether the backup has it as it is. The
    -- line of a row the backup has as it is (tb_same) is that backup line: the undo point keeps it.
    select (x->>'replaced')::bigint, (x->>'kept')::bigint into v_replaced, v_kept
    from public.tenant_backup_export_live(p_table, p_tenant, v_live,
                                          format('(select tb_h as h from %s)', v_typed), p_capture_id is not null) x;
    if v_n > 5000 then
      execute format('analyze %I', v_live);
    end if;
    if v_kept = v_n then
      execute format('create temp view %I as select %s from (select r from tb_none where false) x', p_src, v_casts);
      v_written := 0;
    else
      execute format(
        'create temp table %I with (toast_tuple_target = 8160) on commit drop as
         select %s from %s s where not exists (select 1 from %I l where l.tb_h = s.tb_h)',
        p_src, v_cols, v_typed, v_live);
      get diagnostics v_written := row_count;
    end if;
  elsif not v_any and (p_spec->>'row_count')::bigint <= 1000 then
    -- Nothing to compare, few rows: every staged line is a row to write, read (and cast) where it is
    -- staged, which stays until the apply's end.
    execute format(
      'create temp view %I as
       select %s from (select unnest(string_to_array(s.lines, E''\n''))::jsonb as r
                       from public.tenant_backup_stage s
                       where s.restore_id = %L and s.table_name = %L
                       union all select r from tb_none) x',
      p_src, v_casts, p_restore_id, v_name);
    execute format('select count(*) from %I', p_src) into v_n;
    v_written := v_n;
  elsif not v_any then
    -- Nothing to compare: every staged line is a row to write.
    execute format(
      'create temp table %I with (toast_tuple_target = 8160) on commit drop as
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
    select (x->>'replaced')::bigint, (x->>'kept')::bigint into v_replaced, v_kept
    from public.tenant_backup_export_live(p_table, p_tenant, v_live, format('%I', v_lines),
                                          p_capture_id is not null) x;
    if v_n > 5000 then
      execute format('analyze %I', v_live);
    end if;
    if v_kept = v_n then
      -- Every staged line is one of the tenant's rows (a key appears once on each side): nothing to write.
      execute format('create temp view %I as select %s from (select r from tb_none where false) x', p_src, v_casts);
      v_written := 0;
    else
      execute format('create temp table %I with (toast_tuple_target = 8160) on commit drop as %s',
                     p_src, public.tenant_backup_changed_rows_sql(v_casts, v_lines, v_live));
      get diagnostics v_written := row_count;
    end if;
  end if;
  if v_n <> (p_spec->>'row_count')::bigint then
    raise exception using errcode = 'TB004',
      message = format('%s: %s rows staged, the backup has %s', v_name, v_n, p_spec->>'row_count');
  end if;
  if v_written > 5000 and (v_typed is null or v_any) then
    execute format('analyze %I', p_src);
  end if;
  if p_capture_id is not null and v_any then
    if v_replaced = 0 and v_written = 0 and jsonb_typeof(p_spec->'reuse') = 'object' then
      -- Left exactly as it was: the restored backup's entry is this table's undo point.
      insert into public.tenant_backup_undo (capture_id, organization_id, table_name, page, row_count, lines)
      values (p_capture_id, p_tenant, v_name, -1, v_n, (p_spec->'reuse')::text);
    elsif v_same then
      perform public.tenant_backup_undo_write(p_capture_id, p_tenant, v_name, format(
        'select x.line, row_number() over (order by s.page, x.i) as n
         from public.tenant_backup_stage s
         cross join lateral unnest(string_to_array(s.lines, E''\n'')) with ordinality as x(line, i)
         where s.restore_id = %L and s.table_name = %L', p_restore_id, v_name));
    else
      perform public.tenant_backup_undo_write_live(p_capture_id, p_tenant, v_name, v_live);
    end if;
  end if;
  return jsonb_build_object('rows_in_backup', v_n, 'columns', v_cols, 'column_names', to_jsonb(v_colnames),
                            'by_hash', true, 'live', v_any and not v_same)
         || public.tenant_backup_apply_compare(p_table, to_jsonb(v_colnames)) - 'cmp';
end;
$$;


select public.tenant_backup_restrict_functions(array[
  'tenant_backup_changed_rows_sql', 'tenant_backup_apply_hashed']);
