-- Tenant backup: an undo point's pages numbered as the apply exports the tenant's rows.
--
-- A real restore's apply exports each of the tenant's rows in a table it changes (as its line, to compare
-- by md5) and writes them into the undo point (tenant_backup_undo) in pages of at most 4 MB. The pages were
-- made afterwards: the lines of the rows the backup has as they are were looked up again among the staged
-- lines, all of them sorted by their number to count the bytes before each, and sorted again by page. For
-- the 338,000 rows of the benchmark's largest table that took 1.6 s. Now the export itself, as its rows
-- come in order, numbers each row's page (the same rule as tenant_backup_undo_write: a new page every
-- tenant_backup_undo_page_rows() rows and wherever the text reaches another 4 MB), and keeps the line of
-- an equal row beside the others (tb_same, as the typed staging's export already did): the pages are then
-- the export grouped by page, 0.8 s for that table, for 0.25 s more in the export.
--
-- The export, the same whether the backup's rows were staged typed or as lines, is one function now
-- (tenant_backup_export_live). Both its windows read the rows as its ordered select gives them (as its row
-- numbers always did). A dry run, which captures nothing, numbers no page and keeps no equal line.

-- Writes table p_table of undo point p_capture_id of tenant p_tenant from p_live, the temp table of the
-- tenant's exported rows that tenant_backup_export_live makes: each row's line in tb_line (a row the
-- backup lacks or has otherwise) or tb_same (one it has as it is), its number in tb_n, its page in tb_page.
create or replace function public.tenant_backup_undo_write_live(
  p_capture_id text, p_tenant text, p_table text, p_live text
) returns void
language plpgsql
volatile
set search_path = pg_catalog
as $$
begin
  execute format(
    'insert into public.tenant_backup_undo (capture_id, organization_id, table_name, page, row_count, lines)
     select $1, $2, $3, l.tb_page, count(*), string_agg(coalesce(l.tb_line, l.tb_same), E''\n'' order by l.tb_n)
     from %I l
     group by l.tb_page',
    p_live)
    using p_capture_id, p_tenant, p_table;
end;
$$;

-- Exports tenant p_tenant's rows of table p_table (its catalog entry with the plan's schema added) into
-- temp table p_live, in export order: tb_n (the row's number), tb_h (the md5 of its line), its key, and
-- tb_line, its line when that md5 is not in p_hashes (a relation of one column h: the staged rows'
-- md5s). With p_capture, for an undo point, also tb_same, the line of a row whose md5 is there, and
-- tb_page, the row's undo page. Answers {replaced: the rows with tb_line, kept: the others}.
create or replace function public.tenant_backup_export_live(
  p_table jsonb, p_tenant text, p_live text, p_hashes text, p_capture boolean
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
  v_sql jsonb := public.tenant_backup_export_sql_of(p_table->>'schema', p_table, null);
  v_key text[] := array(select jsonb_array_elements_text(p_table->'primary_key'));
  v_replaced bigint;
  v_kept bigint;
begin
  execute format(
    'create temp table %1$I on commit drop as
     select e.tb_n, e.tb_h, %2$s, case when s.h is null then e.tb_line end as tb_line,
            case when s.h is not null and %9$L then e.tb_line end as tb_same, e.tb_page
     from (select row_number() over w as tb_n, md5(q.tb_line)::uuid as tb_h, %10$s as tb_page, q.*
           from (select %3$s as tb_line, %4$s from %5$s where %6$s order by %7$s) q
           window w as (rows between unbounded preceding and current row)) e
     left join %8$s s on s.h = e.tb_h',
    p_live,
    (select string_agg(format('e.%I', k), ', ') from unnest(v_key) k),
    v_sql->>'line',
    (select string_agg(format('t0.%I', k), ', ') from unnest(v_key) k),
    v_sql->>'source', v_sql->>'filter', v_sql->>'order', p_hashes, p_capture,
    -- The undo page as tenant_backup_undo_write numbers it, counted along the export as its rows come.
    case when p_capture then format(
      '((row_number() over w - 1) / %s) * 100000
       + (sum(octet_length(q.tb_line) + 1) over w - octet_length(q.tb_line) - 1) / 4194304',
      public.tenant_backup_undo_page_rows()) else 'null::integer' end)
    using p_tenant;
  execute format(
    'select count(*) filter (where tb_line is not null), count(*) filter (where tb_line is null) from %I', p_live)
    into v_replaced, v_kept;
  return jsonb_build_object('replaced', v_replaced, 'kept', v_kept);
end;
$$;

-- As in 20261204000300, but the tenant's rows exported by tenant_backup_export_live (with the page numbers
-- and equal lines above), and the undo point of a table compared by md5 written from that export alone
-- (tenant_backup_undo_write_live).
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
        'create temp table %I on commit drop as
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
      execute format(
        'create temp table %I on commit drop as
         select %s from (select s.line::jsonb as r from %I s
                         where not exists (select 1 from %I l where l.tb_h = s.h)) x',
        p_src, v_casts, v_lines, v_live);
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
  'tenant_backup_undo_write_live', 'tenant_backup_export_live', 'tenant_backup_apply_hashed']);
