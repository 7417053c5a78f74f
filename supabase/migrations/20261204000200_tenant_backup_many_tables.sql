-- Tenant backup: a restore (and a backup) whose cost per table does not grow with the number of tables.
--
-- With hundreds of tenant tables, two things made each table cost more than the one before:
--   - looking a table up in the plan's catalog: tenant_backup_export_sql read the whole catalog back from
--     tenant_backup_plans for every table, the apply searched the catalog (tenant_backup_plan_table) several
--     times per table and per foreign key, and rebuilt its report (one jsonb object of every table so far)
--     after each table's step. Each of these is work in proportion to the tables, done once per table.
--     Now each restored table's catalog entry, backup columns and report entry are found once, kept by the
--     table's position in the apply order, and the report is built once at the end.
--   - temp tables: each one is a file created and, at commit, removed. A table restored by hash made three,
--     and each foreign key one or two more, whatever their rows. Creating a file is not free, and on ext4
--     it costs more the more files were removed just before (it skips inodes freed moments ago), so that
--     one restore's files slowed the next. Now a small table (at most 1,000 rows) left as it was, or
--     restored into an emptied tenant, makes no temp table (tenant_backup_apply_hashed: its new body is in
--     20261204000300, with typed staging), and relations that only name rows held elsewhere are views
--     (catalog entries, no file): the rows to write when there are none, the keys a table restored by
--     hash keeps for its foreign keys (its replaced rows), and the keys a restore made disappear (counted
--     where they are, no longer copied).

-- The pieces of the export of table p_table (a catalog entry) of schema p_schema, as
-- tenant_backup_export_sql answers them, without reading the plan's catalog again.
create or replace function public.tenant_backup_export_sql_of(
  p_schema text,
  p_table jsonb,
  p_after jsonb default null
) returns jsonb
language plpgsql
immutable
set search_path = pg_catalog
as $$
declare
  v_pk text[];
  v_key text;
  v_order text;
  v_after text := '';
begin
  v_pk := array(select jsonb_array_elements_text(coalesce(nullif(p_table->'primary_key', 'null'::jsonb), '[]'::jsonb)));
  if cardinality(v_pk) = 0 then
    -- No primary key: physical order. Stable inside one snapshot only, which the manifest says.
    v_key := 'array[t0.ctid::text]';
    v_order := 't0.ctid';
    if p_after is not null then
      v_after := format(' and t0.ctid > %L::tid', p_after->>0);
    end if;
  else
    select 'array[' || string_agg(format('t0.%I::text', k), ', ' order by o) || ']',
           string_agg(format('t0.%I', k), ', ' order by o)
      into v_key, v_order
    from unnest(v_pk) with ordinality as u(k, o);
    if p_after is not null then
      if jsonb_typeof(p_after) <> 'array' or jsonb_array_length(p_after) <> cardinality(v_pk) then
        raise exception using errcode = '22023', message = 'p_after must be an array with one value per key column';
      end if;
      select format(' and (%s) > (%s)', v_order,
                    string_agg(format('%L::%s', p_after->>(u.o::int - 1), c->>'type'), ', ' order by u.o))
        into v_after
      from unnest(v_pk) with ordinality as u(k, o)
      join jsonb_array_elements(p_table->'columns') as c on c->>'name' = u.k;
    end if;
  end if;
  return jsonb_build_object(
    'key', v_key,
    'line', format('array_to_json(array[%s])::text', p_table->>'select_list'),
    'source', format('%I.%I t0', p_schema, p_table->>'name'),
    'filter', format('(%s)%s', p_table->>'scope', v_after),
    'order', v_order);
end;
$$;

-- As before (see 20261122000003): table p_table of plan p_plan_id, looked up in the plan's catalog.
create or replace function public.tenant_backup_export_sql(
  p_plan_id text,
  p_table text,
  p_after jsonb default null
) returns jsonb
language plpgsql
stable
set search_path = pg_catalog
as $$
declare
  v_catalog jsonb;
  v_table jsonb;
begin
  select catalog into v_catalog from public.tenant_backup_plans where plan_id = p_plan_id;
  if v_catalog is null then
    raise exception using errcode = 'P0002', message = format('no plan %s: call tenant_backup_prepare', p_plan_id);
  end if;
  select t into v_table from jsonb_array_elements(v_catalog->'tables') as t where t->>'name' = p_table;
  if v_table is null then
    raise exception using errcode = 'P0002', message = format('%I is not a tenant table', p_table);
  end if;
  return public.tenant_backup_export_sql_of(v_catalog->>'schema', v_table, p_after);
end;
$$;

-- As before (see 20261203000200), the catalog read once for all the tables and the answer built once.
create or replace function public.tenant_backup_export_columns_queries(
  p_plan_id text,
  p_tenant text,
  p_tables jsonb default null
) returns jsonb
language plpgsql
stable
set search_path = pg_catalog
as $$
declare
  v_catalog jsonb;
  v_schema text;
  v_queries jsonb;
begin
  select catalog into v_catalog from public.tenant_backup_plans where plan_id = p_plan_id;
  if v_catalog is null then
    raise exception using errcode = 'P0002', message = format('no plan %s: call tenant_backup_prepare', p_plan_id);
  end if;
  v_schema := v_catalog->>'schema';
  select coalesce(jsonb_object_agg(t->>'name', format(
           'select %s from %s where %s order by %s',
           (select string_agg(format('t0.%I', c->>'name'), ', ' order by o)
            from jsonb_array_elements(t->'columns') with ordinality as u(c, o)
            where not (c->>'generated')::boolean),
           s->>'source',
           -- $1 appears in the scope only as "$1::<type>", written by tenant_backup_catalog.
           replace(s->>'filter', '$1::', quote_literal(p_tenant) || '::'), s->>'order')), '{}'::jsonb)
    into v_queries
  from jsonb_array_elements(v_catalog->'tables') as t
  cross join lateral public.tenant_backup_export_sql_of(v_schema, t, null) as s
  where p_tables is null or p_tables ? (t->>'name');
  return jsonb_build_object(
    'queries', v_queries,
    'settings', jsonb_build_object('datestyle', 'ISO, YMD', 'intervalstyle', 'postgres', 'timezone', 'UTC',
                                   'extra_float_digits', '1', 'bytea_output', 'hex'));
end;
$$;

-- As before (see 20261203000100), with each restored table's catalog entry (its schema added, for
-- tenant_backup_apply_hashed), backup columns and report entry kept by the table's position in v_names:
-- found once, never searched for again, and the report built once at the end. For a table restored by
-- hash in replica mode, the keys kept for a foreign key are a view of its replaced rows (p_src_live,
-- which nothing changes until commit), or of no rows when there is no p_src_live (the tenant had no row
-- there, or had them exactly as backed up).
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
        if (v_stat->>'by_hash')::boolean then
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

-- As before (see 20261201000001), the keys the restore made disappear counted where they are instead of
-- copied into a temp table first (usually there are none, and then no referencing table is scanned).
create or replace function public.tenant_backup_apply_check_fk(
  p_schema text, p_fk jsonb, p_names text[], p_old text
) returns bigint
language plpgsql
volatile
set search_path = pg_catalog
as $$
declare
  v_gone text;
  v_n bigint;
  v_gone_keys bigint := 0;
begin
  if p_fk->>'table' = any(p_names) then
    execute format(
      'select count(*) from %I s where %s and not exists (select 1 from %I.%I p where %s)',
      'tb_src_' || array_position(p_names, p_fk->>'table'),
      (select string_agg(format('s.%I is not null', l), ' and ') from jsonb_array_elements_text(p_fk->'columns') l),
      p_schema, p_fk->>'ref_table', public.tenant_backup_fk_join(p_fk, 'p', 's'))
      into v_n;
    if v_n > 0 then
      raise exception using errcode = '23503',
        message = format('%s restored rows of %s reference %s rows that do not exist (foreign key %s)',
                         v_n, p_fk->>'table', p_fk->>'ref_table', p_fk->>'name'),
        table = p_fk->>'table', constraint = p_fk->>'name';
    end if;
  end if;
  if not p_fk->>'ref_table' = any(p_names) then
    return 0;
  end if;
  -- The referenced keys the restore made disappear: kept keys no longer in the referenced table.
  v_gone := format('(select * from %I o where not exists (select 1 from %I.%I p where %s))',
                   p_old, p_schema, p_fk->>'ref_table',
                   (select string_agg(format('p.%1$I = o.%1$I', r), ' and ')
                    from jsonb_array_elements_text(p_fk->'ref_columns') r));
  execute format('select count(*) from %s g', v_gone) into v_gone_keys;
  if v_gone_keys > 0 then
    execute format('select count(*) from %I.%I c join %s g on %s',
                   p_schema, p_fk->>'table', v_gone, public.tenant_backup_fk_join(p_fk, 'g', 'c'))
      into v_n;
    if v_n > 0 then
      raise exception using errcode = 'TB005',
        message = format('%s rows of %s would reference %s rows the restore removes (foreign key %s, on delete %s)%s',
                         v_n, p_fk->>'table', p_fk->>'ref_table', p_fk->>'name', p_fk->>'on_delete',
                         case when p_fk->>'table' = any(p_names) then '' else format('; restore %s too', p_fk->>'table') end),
        table = p_fk->>'table', constraint = p_fk->>'name';
    end if;
  end if;
  return v_gone_keys;
end;
$$;

-- As before (see 20261201000001), the restored tables' columns found in one pass over the catalog.
create or replace function public.tenant_backup_apply_sequences(p_catalog jsonb, p_names text[]) returns integer
language plpgsql
volatile
set search_path = pg_catalog
as $$
declare
  v_schema text := p_catalog->>'schema';
  v_seq record;
  v_moved integer := 0;
  v_n integer;
begin
  for v_seq in
    select t->>'name' as name, c->>'name' as col,
           pg_get_serial_sequence(format('%I.%I', v_schema, t->>'name'), c->>'name') as seq
    from jsonb_array_elements(p_catalog->'tables') t
    cross join lateral jsonb_array_elements(t->'columns') c
    where t->>'name' = any(p_names)
  loop
    continue when v_seq.seq is null;
    execute format(
      'select setval(%L, greatest(m, s.last_value), true) from (select max(%I)::bigint as m from %I.%I) x,
              %s s where m is not null and (m > s.last_value or not s.is_called)',
      v_seq.seq, v_seq.col, v_schema, v_seq.name, v_seq.seq);
    get diagnostics v_n = row_count;
    v_moved := v_moved + v_n;
  end loop;
  return v_moved;
end;
$$;

select public.tenant_backup_restrict_functions(array[
  'tenant_backup_export_sql_of', 'tenant_backup_export_sql', 'tenant_backup_export_columns_queries',
  'tenant_backup_apply_undo', 'tenant_backup_apply_check_fk', 'tenant_backup_apply_sequences']);
