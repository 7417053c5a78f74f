-- Tenant backup: typed staging on the direct path.
--
-- Over a direct connection, a table of more than 1,000 rows restored by hash (tenant_backup_apply_by_hash_ok:
-- a primary key, the backup's columns are its stored columns) that the tenant has no rows in (where it
-- has, lines compared by hash type only the rows that differ, which costs less) is staged straight into a staging table of
-- its own whose columns have the table's types (a smaller table is staged as lines: its apply makes no
-- temp table, 20261204000200, and a staging table would be files made and removed for a few rows): the engine turns each backup line back into a row of COPY's text format
-- and COPYs it in, so PostgreSQL reads each value once through its type's input function, as `COPY … FROM`
-- does, instead of the apply turning each staged line into jsonb and casting every column. Each staged row
-- carries the md5 of its backup line (computed by the engine as it stages), which the apply matches
-- against the md5 of the tenant's rows exported as lines, as it matches staged lines (20261203000100).
--
-- Staging tables live in schema tenant_backup_staging (not exposed through the API), are unlogged (a
-- scratch area, rebuilt from storage after a crash), owned by the functions' owner and listed in
-- tenant_backup_stage_typed; a table's staged pages are still recorded in tenant_backup_stage (their lines
-- empty), which keeps tenant_backup_stage_progress the record of how far staging got. The PostgREST path
-- (no COPY) stages lines as before, and so does a table whose lines the engine cannot turn into rows or
-- whose values PostgreSQL refuses for their types: it drops that table's typed staging
-- (tenant_backup_stage_typed_drop) and stages its lines as text, so the apply reports such a value
-- exactly as before.

create schema if not exists tenant_backup_staging;
revoke all on schema tenant_backup_staging from public;

create table if not exists public.tenant_backup_stage_typed (
  restore_id text not null,
  table_name text not null,
  relname text not null,
  created_at timestamptz not null default now(),
  primary key (restore_id, table_name)
);
alter table public.tenant_backup_stage_typed enable row level security;
do $$
begin
  revoke all on table public.tenant_backup_stage_typed from public;
  if exists (select 1 from pg_roles where rolname = 'anon') then
    revoke all on table public.tenant_backup_stage_typed from anon;
  end if;
  if exists (select 1 from pg_roles where rolname = 'authenticated') then
    revoke all on table public.tenant_backup_stage_typed from authenticated;
  end if;
end;
$$;

-- The typed staging table of table p_table of restore p_restore_id, schema-qualified and quoted, or null.
create or replace function public.tenant_backup_stage_typed_relation(p_restore_id text, p_table text)
returns text
language sql
stable
security definer
set search_path = pg_catalog
as $$
  select format('tenant_backup_staging.%I', relname) from public.tenant_backup_stage_typed
  where restore_id = p_restore_id and table_name = p_table;
$$;

-- Opens the typed staging of backup table p_spec ({name, columns: [{name, type}]}) for restore
-- p_restore_id of tenant p_tenant, plan p_plan_id: answers {relation (what to COPY into: page, md5 of the
-- line, then the backup's columns)}, or null when the table is staged as lines (it is not restored by
-- hash, lines of it are staged already, or the tenant has rows in it). Repeated, answers the same table.
-- The connection's user may insert into it.
create or replace function public.tenant_backup_stage_typed_open(
  p_restore_id text, p_tenant text, p_plan_id text, p_spec jsonb
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = pg_catalog
as $$
declare
  v_name text := p_spec->>'name';
  v_relname text := 's_' || md5(p_restore_id || '/' || v_name);
  v_catalog jsonb;
  v_table jsonb;
  v_has_rows boolean;
begin
  if not exists (select 1 from public.tenant_backup_stage_typed where restore_id = p_restore_id and table_name = v_name) then
    if exists (select 1 from public.tenant_backup_stage where restore_id = p_restore_id and table_name = v_name) then
      return null;
    end if;
    v_catalog := public.tenant_backup_plan_catalog(p_plan_id);
    v_table := public.tenant_backup_plan_table(v_catalog, v_name);
    if v_table is null or not public.tenant_backup_apply_by_hash_ok(v_table, p_spec) then
      return null;
    end if;
    -- Where the tenant has rows, lines compared by hash cost less: only the rows that differ are typed,
    -- where typed staging parses every value, unchanged or not. Rows written after this moment are still
    -- compared right by either staging; this only chooses the cheaper one.
    execute format('select exists (select 1 from %I.%I t0 where %s)', v_catalog->>'schema', v_name, v_table->>'scope')
      into v_has_rows using p_tenant;
    if v_has_rows then
      return null;
    end if;
    execute format('create unlogged table tenant_backup_staging.%I (tb_page integer not null, tb_h uuid not null, %s)',
      v_relname,
      (select string_agg(format('%I %s', c->>'name', c->>'type'), ', ' order by o)
       from jsonb_array_elements(p_spec->'columns') with ordinality x(c, o)));
    execute format('revoke all on table tenant_backup_staging.%I from public', v_relname);
    insert into public.tenant_backup_stage_typed (restore_id, table_name, relname) values (p_restore_id, v_name, v_relname);
  end if;
  -- COPY runs as the connection's user: it may insert, and nothing more. Granted only where missing: two
  -- restores granting the schema at once would update its row concurrently.
  if not has_schema_privilege(session_user, 'tenant_backup_staging', 'USAGE') then
    grant usage on schema tenant_backup_staging to session_user;
  end if;
  if not has_table_privilege(session_user, format('tenant_backup_staging.%I', v_relname), 'INSERT') then
    execute format('grant insert on table tenant_backup_staging.%I to session_user', v_relname);
  end if;
  return jsonb_build_object('relation', format('tenant_backup_staging.%I', v_relname));
end;
$$;

-- Before page p_page (p_rows rows) of table p_table of restore p_restore_id is COPYed into its typed
-- staging, in the same transaction: the rows of an earlier try of the page go, and the page is recorded
-- in tenant_backup_stage (with no lines) for tenant_backup_stage_progress.
create or replace function public.tenant_backup_stage_typed_page(
  p_restore_id text, p_table text, p_page integer, p_rows integer
) returns void
language plpgsql
volatile
security definer
set search_path = pg_catalog
as $$
declare
  v_relation text := public.tenant_backup_stage_typed_relation(p_restore_id, p_table);
begin
  if v_relation is null then
    raise exception using errcode = 'P0002', message = format('%s: no typed staging for restore %s', p_table, p_restore_id);
  end if;
  -- Only a page staged before is looked for among the rows: no scan per page otherwise.
  if exists (select 1 from public.tenant_backup_stage
             where restore_id = p_restore_id and table_name = p_table and page = p_page) then
    execute format('delete from %s where tb_page = $1', v_relation) using p_page;
  end if;
  insert into public.tenant_backup_stage (restore_id, table_name, page, row_count, lines)
  values (p_restore_id, p_table, p_page, p_rows, '')
  on conflict (restore_id, table_name, page) do update set row_count = excluded.row_count, lines = '';
end;
$$;

-- Drops the typed staging of table p_table of restore p_restore_id and the pages recorded for it, so that
-- the table is staged again as lines.
create or replace function public.tenant_backup_stage_typed_drop(p_restore_id text, p_table text) returns void
language plpgsql
volatile
security definer
set search_path = pg_catalog
as $$
declare
  v_relname text;
begin
  delete from public.tenant_backup_stage_typed where restore_id = p_restore_id and table_name = p_table
  returning relname into v_relname;
  if v_relname is not null then
    execute format('drop table if exists tenant_backup_staging.%I cascade', v_relname);
  end if;
  delete from public.tenant_backup_stage where restore_id = p_restore_id and table_name = p_table;
end;
$$;

-- Drops restore p_restore_id's typed staging tables, and any left behind by restores that died more than
-- a day ago (as tenant_backup_stage_clear does with staged lines). CASCADE: with them go the temp views
-- the apply reads them through. Answers how many it dropped.
create or replace function public.tenant_backup_stage_typed_clear(p_restore_id text) returns integer
language plpgsql
volatile
security definer
set search_path = pg_catalog
as $$
declare
  v_relname text;
  v_n integer := 0;
begin
  for v_relname in
    delete from public.tenant_backup_stage_typed
    where restore_id = p_restore_id or created_at < now() - interval '1 day'
    returning relname
  loop
    execute format('drop table if exists tenant_backup_staging.%I cascade', v_relname);
    v_n := v_n + 1;
  end loop;
  return v_n;
end;
$$;

-- As before (20261122000006, statement timeout from 20261201000002), and the typed staging tables with
-- the staged lines.
create or replace function public.tenant_backup_stage_clear(p_restore_id text) returns jsonb
language sql
volatile
set search_path = pg_catalog
set statement_timeout = '55s'
as $$
  select public.tenant_backup_stage_typed_clear(p_restore_id);
  with gone as (
    delete from public.tenant_backup_stage
    where restore_id = p_restore_id or created_at < now() - interval '1 day'
    returning 1)
  select to_jsonb(count(*)) from gone;
$$;

-- As before (see 20261203000100), with these changes for many tables (the why is atop 20261204000200):
--   - p_table is the table's catalog entry with the plan's schema added (schema), so that its export is
--     not looked up in the plan again;
--   - a table of at most 1,000 staged rows is first compared with the tenant's rows line for line, in
--     export order, in one statement: a few milliseconds at most, about what the files of its temp tables
--     cost. When it is exactly as backed up, nothing is written, nothing replaced and no temp table made:
--     p_src is a view of no rows, the answer's live is false (no p_src_live), and the undo point, unless
--     the backup's entry is reused, is the staged lines in their order (the tenant's rows, as they are);
--   - otherwise, when every staged line is among the tenant's rows (nothing to write), p_src is a view of
--     no rows rather than an empty temp table;
--   - when the tenant has no row in a table of at most 1,000 staged rows, p_src is a view of its staged
--     lines as typed rows (read twice at most: written, then checked against foreign keys).
-- These views also read tb_none, a temp table of no rows made once per transaction, so that they go with
-- it at commit.
-- And, for a table staged typed (see the top of this file: the engine stages so only tables of more than
-- 1,000 rows that the tenant had no rows in), the staged rows read from its typed staging table, never
-- cast from lines, nor compared line for line first: when the tenant has no row in the table, the rows to
-- write are the typed staging table itself (through view p_src); otherwise its rows' md5s are matched with the
-- tenant's rows' and only the rows the tenant lacks or has otherwise are copied into p_src. The undo
-- point's line of an equal row is then the tenant's row exported (the same text: its md5 is the backup
-- line's), kept in column tb_same of p_src_live. The rows staged are counted from the pages recorded.
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
  v_keys text := (select string_agg(format('t0.%I', k), ', ') from jsonb_array_elements_text(p_table->'primary_key') k);
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
    execute format(
      'create temp table %1$I on commit drop as
       select e.tb_n, e.tb_h, %2$s, case when s.tb_h is null then e.tb_line end as tb_line,
              case when s.tb_h is not null and %9$L then e.tb_line end as tb_same
       from (select row_number() over () as tb_n, md5(q.tb_line)::uuid as tb_h, q.*
             from (select %3$s as tb_line, %4$s from %5$s where %6$s order by %7$s) q) e
       left join %8$s s on s.tb_h = e.tb_h',
      v_live,
      (select string_agg(format('e.%I', k), ', ') from jsonb_array_elements_text(p_table->'primary_key') k),
      v_sql->>'line', v_keys, v_sql->>'source', v_sql->>'filter', v_sql->>'order', v_typed,
      p_capture_id is not null)
      using p_tenant;
    execute format('select count(*) filter (where tb_line is not null), count(*) filter (where tb_line is null) from %I',
                   v_live) into v_replaced, v_kept;
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
    execute format('select count(*) filter (where tb_line is not null), count(*) filter (where tb_line is null) from %I',
                   v_live) into v_replaced, v_kept;
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
    elsif v_typed is not null then
      perform public.tenant_backup_undo_write(p_capture_id, p_tenant, v_name, format(
        'select coalesce(l.tb_line, l.tb_same) as line, l.tb_n as n from %I l', v_live));
    else
      perform public.tenant_backup_undo_write(p_capture_id, p_tenant, v_name, format(
        'select coalesce(l.tb_line, s.line) as line, l.tb_n as n
         from %I l left join %I s on l.tb_line is null and s.h = l.tb_h', v_live, v_lines));
    end if;
  end if;
  return jsonb_build_object('rows_in_backup', v_n, 'columns', v_cols, 'column_names', to_jsonb(v_colnames),
                            'by_hash', true, 'live', v_any and not v_same)
         || public.tenant_backup_apply_compare(p_table, to_jsonb(v_colnames)) - 'cmp';
end;
$$;

select public.tenant_backup_restrict_functions(array[
  'tenant_backup_stage_typed_relation', 'tenant_backup_stage_typed_open', 'tenant_backup_stage_typed_page',
  'tenant_backup_stage_typed_drop', 'tenant_backup_stage_typed_clear', 'tenant_backup_stage_clear',
  'tenant_backup_apply_hashed']);
