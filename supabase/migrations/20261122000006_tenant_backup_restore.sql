-- Tenant backup: restore. A restore stages the backup's rows in pages (any number of calls, each safe to
-- repeat), then applies them in ONE function call, which is one transaction: the tenant's current rows in
-- the restored tables go and the backup's rows come in, or nothing changes at all. A dry run runs the
-- very same statements and rolls them back.

-- Staged rows: one backup page per row, the page's lines as the backup stores them. Unlogged: it is a
-- scratch area, rebuilt from storage if the server restarts.
create unlogged table if not exists public.tenant_backup_stage (
  restore_id text not null,
  table_name text not null,
  page integer not null,
  row_count integer not null,
  lines text not null,
  created_at timestamptz not null default now(),
  primary key (restore_id, table_name, page)
);

create or replace function public.tenant_backup_stage_page(
  p_restore_id text, p_table text, p_page integer, p_rows integer, p_lines text
) returns jsonb
language sql
volatile
set search_path = pg_catalog
as $$
  insert into public.tenant_backup_stage (restore_id, table_name, page, row_count, lines)
  values (p_restore_id, p_table, p_page, p_rows, p_lines)
  on conflict (restore_id, table_name, page) do update set row_count = excluded.row_count, lines = excluded.lines
  returning to_jsonb(row_count);
$$;

-- Drops a restore's staged rows, and any left behind by restores that died more than a day ago.
create or replace function public.tenant_backup_stage_clear(p_restore_id text) returns jsonb
language sql
volatile
set search_path = pg_catalog
as $$
  with gone as (
    delete from public.tenant_backup_stage
    where restore_id = p_restore_id or created_at < now() - interval '1 day'
    returning 1)
  select to_jsonb(count(*)) from gone;
$$;

-- Applies a staged restore. p_spec:
--   { "tables": [{ "name", "row_count", "columns": [{ "name", "type" }] }, ...]   backup tables to restore
--     "mode": "auto" | "replica" | "triggers",  "allow_dropped_columns": bool }
-- Answers { success, dry_run, mode, tables: { name: { rows_in_backup, rows_now, would_insert,
-- would_delete, would_change, deleted, restored } }, warnings, error }.
--
-- Mode "replica" (chosen by "auto" when the database allows it) sets session_replication_role = replica
-- for this transaction: the app's triggers and PostgreSQL's per-row foreign-key triggers do not fire.
-- Restored rows are the backup's rows, not new events, so an audit trigger must not log each of them,
-- and a per-row foreign-key check against an unindexed key would scan a table per deleted row. Every
-- foreign key touching a restored table is instead checked once, set-based, before the end. Mode
-- "triggers" is the fallback where that setting is not allowed: ordinary deletes and inserts, triggers
-- fire, and any reference from a table outside the restore to the tenant's rows is refused up front.
--
-- SECURITY DEFINER so that the service role (PostgREST) gets the owner's right to set
-- session_replication_role; EXECUTE is granted to the service role only (see the grants migration).
create or replace function public.tenant_backup_apply(
  p_restore_id text, p_plan_id text, p_tenant text, p_spec jsonb, p_dry_run boolean
) returns jsonb
language plpgsql
volatile
security definer
set search_path = pg_catalog
set datestyle = 'ISO, YMD'
set intervalstyle = 'postgres'
set timezone = 'UTC'
-- Rows are compared as text: floats must print exactly (with 0 or less, 0.1 and 0.1000000000000001 look
-- alike and a changed value would be left as it is).
set extra_float_digits = 1
as $$
declare
  v_catalog jsonb;
  v_schema text;
  v_mode text := coalesce(p_spec->>'mode', 'auto');
  v_allow_dropped boolean := coalesce((p_spec->>'allow_dropped_columns')::boolean, false);
  v_names text[];
  v_report jsonb := '{}'::jsonb;
  v_warnings jsonb := '[]'::jsonb;
  v_error jsonb;
  v_spec jsonb;
  v_table jsonb;
  v_name text;
  v_scope text;
  v_src text;
  v_cols text;
  v_colnames text[];
  v_casts text;
  v_pk text[];
  v_join text;
  v_cmp text;
  v_n bigint;
  v_stats jsonb;
  v_fk jsonb;
  v_i int;
  v_state text;
  v_msg text;
  v_detail text;
  v_hint text;
  v_err_table text;
  v_err_constraint text;
  v_context text;
  v_seq record;
  v_step text;
  -- Milliseconds per step, summed by step name: the dry run's answer to "why is this slow".
  v_timings jsonb := '{}'::jsonb;
  v_clock timestamptz := clock_timestamp();
begin
  select catalog into v_catalog from public.tenant_backup_plans where plan_id = p_plan_id;
  if v_catalog is null then
    raise exception using errcode = 'P0002', message = format('no plan %s: call tenant_backup_prepare', p_plan_id);
  end if;
  v_schema := v_catalog->>'schema';
  -- Insert order comes from the catalog (parents first), whatever order the caller listed the tables in.
  select array_agg(t->>'name' order by o) into v_names
  from jsonb_array_elements(v_catalog->'tables') with ordinality as c(t, o)
  where exists (select 1 from jsonb_array_elements(p_spec->'tables') s where s->>'name' = t->>'name');
  if coalesce(cardinality(v_names), 0) <> jsonb_array_length(p_spec->'tables') then
    raise exception using errcode = '22023', message = 'every table to restore must be a tenant table of the plan';
  end if;

  if v_mode in ('auto', 'replica') then
    begin
      perform set_config('session_replication_role', 'replica', true);
      v_mode := 'replica';
    exception when insufficient_privilege then
      if v_mode = 'replica' then raise; end if;
      v_mode := 'triggers';
    end;
  elsif v_mode <> 'triggers' then
    raise exception using errcode = '22023', message = 'mode must be auto, replica or triggers';
  end if;

  begin
    -- 1. Source tables from the staged lines, cast to the columns' current types, and what would change.
    for v_i in 1 .. cardinality(v_names) loop
      v_name := v_names[v_i];
      select t into v_table from jsonb_array_elements(v_catalog->'tables') t where t->>'name' = v_name;
      select s into v_spec from jsonb_array_elements(p_spec->'tables') s where s->>'name' = v_name;
      v_scope := v_table->>'scope';
      v_src := 'tb_src_' || v_i;

      -- Backup columns that are gone from the table, or now generated, cannot be restored.
      select coalesce(jsonb_agg(b->>'name'), '[]'::jsonb) into v_stats
      from jsonb_array_elements(v_spec->'columns') b
      where not exists (select 1 from jsonb_array_elements(v_table->'columns') c
                        where c->>'name' = b->>'name' and not (c->>'generated')::boolean);
      if jsonb_array_length(v_stats) > 0 then
        v_warnings := v_warnings || jsonb_build_array(format(
          '%s: columns %s are in the backup but no longer in the table; their values are not restored',
          v_name, (select string_agg(x, ', ') from jsonb_array_elements_text(v_stats) x)));
        if not v_allow_dropped and not p_dry_run then
          raise exception using errcode = 'TB002',
            message = format('%s: columns %s were dropped since the backup; pass allow_dropped_columns to restore without them',
                             v_name, (select string_agg(x, ', ') from jsonb_array_elements_text(v_stats) x)),
            table = v_name;
        end if;
      end if;

      -- Every backup value goes back through its type's input function: the exact inverse of the export.
      -- Column names are kept as an array: quoted, a name may hold anything, ", " and '"' included.
      select array_agg(b->>'name' order by b.o), string_agg(format('%I', b->>'name'), ', ' order by b.o),
             string_agg(format('(x.r->>%s)::%s as %I', b.o - 1, c->>'type', b->>'name'), ', ' order by b.o)
        into v_colnames, v_cols, v_casts
      from jsonb_array_elements(v_spec->'columns') with ordinality as b(b, o)
      join jsonb_array_elements(v_table->'columns') c on c->>'name' = b.b->>'name' and not (c->>'generated')::boolean;
      if v_cols is null then
        raise exception using errcode = 'TB003', message = format('%s: no column of the backup is left in the table', v_name);
      end if;
      execute format(
        'create temp table %I on commit drop as
         select %s from (select unnest(string_to_array(s.lines, E''\n''))::jsonb as r
                         from public.tenant_backup_stage s
                         where s.restore_id = $1 and s.table_name = $2 order by s.page) x',
        v_src, v_casts)
        using p_restore_id, v_name;
      v_timings := v_timings || jsonb_build_object('stage_to_rows', coalesce((v_timings->>'stage_to_rows')::numeric, 0)
                   + round((extract(epoch from clock_timestamp() - v_clock) * 1000)::numeric, 1));
      v_clock := clock_timestamp();
      execute format('select count(*) from %I', v_src) into v_n;
      -- Statistics only where the planner's guess could pick a bad join; analyze costs more than it saves
      -- on small tables.
      if v_n > 5000 then
        execute format('analyze %I', v_src);
      end if;
      if v_n <> (v_spec->>'row_count')::bigint then
        raise exception using errcode = 'TB004',
          message = format('%s: %s rows staged, the backup has %s', v_name, v_n, v_spec->>'row_count');
      end if;

      -- The catalog holds JSON null (not SQL NULL) for a table without a primary key.
      v_pk := array(select jsonb_array_elements_text(
                      case when jsonb_typeof(v_table->'primary_key') = 'array' then v_table->'primary_key' else '[]' end));
      v_stats := jsonb_build_object('rows_in_backup', v_n);
      if cardinality(v_pk) > 0 then
        select string_agg(format('t0.%1$I = s.%1$I', k), ' and ') into v_join from unnest(v_pk) k;
        -- Compared as text, the form the backup holds: json and a few other types have no equality
        -- operator, and text tells apart values that compare equal (1.0 and 1.00, -0 and 0).
        select format('(%s) is distinct from (%s)', string_agg(format('t0.%I::text', x), ', ' order by o),
                      string_agg(format('s.%I::text', x), ', ' order by o))
          into v_cmp
        from unnest(v_colnames) with ordinality as u(x, o);
        -- Updated in place: every column but the key (equal by the join, and an identity key cannot be set).
        v_stats := v_stats || (
          select jsonb_build_object('join', v_join, 'cmp', v_cmp,
                                    'set', string_agg(format('%I', x), ', ' order by o),
                                    'set_from', string_agg(format('s.%I', x), ', ' order by o))
          from unnest(v_colnames) with ordinality as u(x, o)
          where not x = any(v_pk));
      end if;
      v_report := v_report || jsonb_build_object(v_name, v_stats || jsonb_build_object('columns', v_cols));
      v_timings := v_timings || jsonb_build_object('compare', coalesce((v_timings->>'compare')::numeric, 0)
                   + round((extract(epoch from clock_timestamp() - v_clock) * 1000)::numeric, 1));
      v_clock := clock_timestamp();
    end loop;

    -- 2. Keys that rows elsewhere may point at: every key a foreign key references in a restored table,
    --    as it is now, so that after the swap the keys that disappeared can be found.
    for v_fk in
      select f from jsonb_array_elements(v_catalog->'foreign_keys') f where f->>'ref_table' = any(v_names)
    loop
      if v_mode = 'triggers' and not (v_fk->>'table' = any(v_names)) then
        -- Without replica mode, deleting a referenced row cascades, nulls or fails right away, even when
        -- the same key comes back: refuse when a table outside the restore points at the tenant's rows.
        select t->>'scope' into v_scope from jsonb_array_elements(v_catalog->'tables') t where t->>'name' = v_fk->>'ref_table';
        execute format('select count(*) from %I.%I c where exists (select 1 from %I.%I t0 where %s and %s)',
                       v_schema, v_fk->>'table', v_schema, v_fk->>'ref_table', v_scope,
                       (select string_agg(format('t0.%I = c.%I', r, l), ' and ')
                        from jsonb_array_elements_text(v_fk->'ref_columns') with ordinality a(r, o)
                        join jsonb_array_elements_text(v_fk->'columns') with ordinality b(l, o2) on o = o2))
          into v_n using p_tenant;
        if v_n > 0 then
          raise exception using errcode = 'TB005',
            message = format('%s rows of %s (not being restored) reference %s through foreign key %s (on delete %s); restore %s too',
                             v_n, v_fk->>'table', v_fk->>'ref_table', v_fk->>'name', v_fk->>'on_delete', v_fk->>'table'),
            table = v_fk->>'table', constraint = v_fk->>'name';
        end if;
      end if;
      select t->>'scope' into v_scope from jsonb_array_elements(v_catalog->'tables') t where t->>'name' = v_fk->>'ref_table';
      execute format('create temp table if not exists %I on commit drop as select %s from %I.%I t0 where %s',
                     'tb_old_' || md5((v_fk->>'name') || (v_fk->>'table')),
                     (select string_agg(format('t0.%I', r), ', ') from jsonb_array_elements_text(v_fk->'ref_columns') r),
                     v_schema, v_fk->>'ref_table', v_scope)
        using p_tenant;
      v_timings := v_timings || jsonb_build_object('old_keys', coalesce((v_timings->>'old_keys')::numeric, 0)
                   + round((extract(epoch from clock_timestamp() - v_clock) * 1000)::numeric, 1));
      v_clock := clock_timestamp();
    end loop;

    -- The app's triggers fire in mode "triggers", and they are written for the app's search_path, not for
    -- this function's (pg_catalog only): they get the session's own from here on (pg_settings.reset_val,
    -- which the function's SET clause does not change), behind pg_catalog so that no built-in is shadowed.
    if v_mode = 'triggers' then
      perform set_config('search_path', concat_ws(', ', 'pg_catalog',
        nullif((select reset_val from pg_settings where name = 'search_path'), '')), true);
    end if;

    -- 3. Make the tenant's rows the backup's, by primary key: delete the rows the backup does not have,
    --    update those that differ, insert those missing; rows already equal are not touched. In replica
    --    mode deletes go first (children first), so a unique value freed by a removed row can be taken
    --    again, and rows that differ are deleted there too and written back whole with the missing ones:
    --    an UPDATE checks unique indexes row by row, so it fails when rows swapped or passed on a unique
    --    value since the backup (two emails swapped, the "primary" flag moved to another row); nothing
    --    cascades in replica mode. With per-row foreign-key triggers, rows are inserted and updated
    --    (parents first) before the rows they stop pointing at are deleted (children first). A table
    --    without a primary key is replaced whole. The dry run reports the row counts of these statements
    --    (a row written back counts as changed, not as deleted and inserted).
    for v_step in select unnest(case when v_mode = 'replica' then array['delete', 'write'] else array['write', 'delete'] end) loop
      for v_i in 1 .. cardinality(v_names) loop
        v_name := case when v_step = 'delete' then v_names[cardinality(v_names) + 1 - v_i] else v_names[v_i] end;
        v_src := 'tb_src_' || array_position(v_names, v_name);
        select t->>'scope' into v_scope from jsonb_array_elements(v_catalog->'tables') t where t->>'name' = v_name;
        v_stats := v_report->v_name;
        v_cols := v_stats->>'columns';
        if v_stats ? 'join' then
          if v_step = 'delete' then
            execute format('delete from %I.%I t0 where %s and not exists (select 1 from %I s where %s)',
                           v_schema, v_name, v_scope, v_src, v_stats->>'join') using p_tenant;
            get diagnostics v_n = row_count;
            v_stats := v_stats || jsonb_build_object('deleted', v_n);
            if v_mode = 'replica' then
              execute format('delete from %I.%I t0 using %I s where %s and %s and %s',
                             v_schema, v_name, v_src, v_stats->>'join', v_scope, v_stats->>'cmp') using p_tenant;
              get diagnostics v_n = row_count;
              v_stats := v_stats || jsonb_build_object('updated', v_n);
            end if;
          else
            v_n := 0;
            if v_mode = 'replica' then
              v_n := (v_stats->>'updated')::bigint;
            elsif v_stats->>'set' is not null then
              execute format('update %I.%I t0 set (%s) = row(%s) from %I s where %s and %s and %s',
                             v_schema, v_name, v_stats->>'set',
                             v_stats->>'set_from',
                             v_src, v_stats->>'join', v_scope, v_stats->>'cmp') using p_tenant;
              get diagnostics v_n = row_count;
            end if;
            v_stats := v_stats || jsonb_build_object('updated', v_n);
            -- A key held by a row outside the tenant's scope is not skipped: the insert then fails on it.
            execute format('insert into %I.%I (%s) overriding system value
                            select %s from %I s where not exists (select 1 from %I.%I t0 where %s and %s)',
                           v_schema, v_name, v_cols, v_cols, v_src, v_schema, v_name, v_stats->>'join', v_scope)
              using p_tenant;
            get diagnostics v_n = row_count;
            -- In replica mode the rows written back (counted as updated) are among those inserted.
            v_stats := v_stats || jsonb_build_object('inserted',
              v_n - case when v_mode = 'replica' then (v_stats->>'updated')::bigint else 0 end);
          end if;
        elsif v_step = 'write' then
          execute format('delete from %I.%I t0 where %s', v_schema, v_name, v_scope) using p_tenant;
          get diagnostics v_n = row_count;
          v_stats := v_stats || jsonb_build_object('deleted', v_n, 'updated', 0);
          execute format('insert into %I.%I (%s) overriding system value select %s from %I',
                         v_schema, v_name, v_cols, v_cols, v_src);
          get diagnostics v_n = row_count;
          v_stats := v_stats || jsonb_build_object('inserted', v_n);
        end if;
        v_report := v_report || jsonb_build_object(v_name, v_stats);
        v_timings := v_timings || jsonb_build_object(v_step, coalesce((v_timings->>v_step)::numeric, 0)
                   + round((extract(epoch from clock_timestamp() - v_clock) * 1000)::numeric, 1));
        v_clock := clock_timestamp();
      end loop;
    end loop;

    -- 4. Foreign keys, once per key and set-based: every restored row's references exist, and no row
    --    anywhere points at a key that the restore made disappear.
    for v_fk in
      select f from jsonb_array_elements(v_catalog->'foreign_keys') f
      where f->>'table' = any(v_names) or f->>'ref_table' = any(v_names)
    loop
      if v_fk->>'table' = any(v_names) then
        execute format(
          'select count(*) from %I s where %s and not exists (select 1 from %I.%I p where %s)',
          'tb_src_' || array_position(v_names, v_fk->>'table'),
          (select string_agg(format('s.%I is not null', l), ' and ') from jsonb_array_elements_text(v_fk->'columns') l),
          v_schema, v_fk->>'ref_table',
          (select string_agg(format('p.%I = s.%I', r, l), ' and ')
           from jsonb_array_elements_text(v_fk->'ref_columns') with ordinality a(r, o)
           join jsonb_array_elements_text(v_fk->'columns') with ordinality b(l, o2) on o = o2))
          into v_n;
        if v_n > 0 then
          raise exception using errcode = '23503',
            message = format('%s restored rows of %s reference %s rows that do not exist (foreign key %s)',
                             v_n, v_fk->>'table', v_fk->>'ref_table', v_fk->>'name'),
            table = v_fk->>'table', constraint = v_fk->>'name';
        end if;
      end if;
      if v_fk->>'ref_table' = any(v_names) then
        -- The referenced keys the restore made disappear: usually none, and then nothing is scanned.
        execute format('create temp table %I on commit drop as
                        select * from %I o where not exists (select 1 from %I.%I p where %s)',
                       'tb_gone_' || md5((v_fk->>'name') || (v_fk->>'table')),
                       'tb_old_' || md5((v_fk->>'name') || (v_fk->>'table')), v_schema, v_fk->>'ref_table',
                       (select string_agg(format('p.%1$I = o.%1$I', r), ' and ')
                        from jsonb_array_elements_text(v_fk->'ref_columns') r));
        get diagnostics v_n = row_count;
        if v_n > 0 then
          execute format('select count(*) from %I.%I c join %I g on %s',
                         v_schema, v_fk->>'table', 'tb_gone_' || md5((v_fk->>'name') || (v_fk->>'table')),
                         (select string_agg(format('g.%I = c.%I', r, l), ' and ')
                          from jsonb_array_elements_text(v_fk->'ref_columns') with ordinality a(r, o)
                          join jsonb_array_elements_text(v_fk->'columns') with ordinality b(l, o2) on o = o2))
            into v_n;
          if v_n > 0 then
            raise exception using errcode = 'TB005',
              message = format('%s rows of %s would reference %s rows the restore removes (foreign key %s, on delete %s)%s',
                               v_n, v_fk->>'table', v_fk->>'ref_table', v_fk->>'name', v_fk->>'on_delete',
                               case when v_fk->>'table' = any(v_names) then '' else format('; restore %s too', v_fk->>'table') end),
              table = v_fk->>'table', constraint = v_fk->>'name';
          end if;
        end if;
      end if;
    v_timings := v_timings || jsonb_build_object('foreign_keys', coalesce((v_timings->>'foreign_keys')::numeric, 0)
             + round((extract(epoch from clock_timestamp() - v_clock) * 1000)::numeric, 1));
    v_clock := clock_timestamp();
    end loop;

    -- 5. Sequences end past the restored keys (never moved back: other tenants use them too).
    for v_seq in
      select n.name, c->>'name' as col, pg_get_serial_sequence(format('%I.%I', v_schema, n.name), c->>'name') as seq
      from unnest(v_names) n(name)
      join jsonb_array_elements(v_catalog->'tables') t on t->>'name' = n.name
      cross join lateral jsonb_array_elements(t->'columns') c
    loop
      continue when v_seq.seq is null;
      execute format(
        'select setval(%L, greatest(m, s.last_value), true) from (select max(%I)::bigint as m from %I.%I) x,
                %s s where m is not null and (m > s.last_value or not s.is_called)',
        v_seq.seq, v_seq.col, v_schema, v_seq.name, v_seq.seq);
    end loop;

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
      v_error := jsonb_strip_nulls(jsonb_build_object(
        'sqlstate', v_state, 'message', v_msg, 'detail', nullif(v_detail, ''), 'hint', nullif(v_hint, ''),
        'table', nullif(v_err_table, ''), 'constraint', nullif(v_err_constraint, ''),
        'context', case when v_state like 'TB%' then null else nullif(v_context, '') end));
  end;

  return jsonb_build_object(
    'success', v_error is null,
    'dry_run', p_dry_run,
    'mode', v_mode,
    'tables', (select coalesce(jsonb_object_agg(k, jsonb_build_object(
                 'rows_in_backup', v->'rows_in_backup',
                 -- The tenant's rows before: those the backup also has, plus those it removes.
                 'rows_now', (v->>'rows_in_backup')::bigint - coalesce((v->>'inserted')::bigint, 0) + coalesce((v->>'deleted')::bigint, 0),
                 'would_insert', v->'inserted', 'would_delete', v->'deleted',
                 'would_change', case when v ? 'join' then v->'updated' end)), '{}'::jsonb)
               from jsonb_each(v_report) e(k, v)),
    'warnings', v_warnings,
    'timings_ms', v_timings,
    'error', v_error);
end;
$$;
