-- Tenant backup: a CSV import checked against the validation rules of its table, in its own transaction.
--
-- tenant_backup_module_import (20261202000300) gains p_rules and p_now: the enabled rules of the table
-- (as tenant_backup_validation_run takes them, each with its "message"), run on the tenant's rows before
-- the import's writes and again after them, before the transaction commits or the dry run rolls back. A
-- row of the file that breaks a rule is refused with its line; a row that broke the rule before the import
-- and that the file does not write is not the import's doing and does not refuse it.

drop function public.tenant_backup_module_import(text, text, text, text, jsonb, text, boolean, bigint, text, text, jsonb);

-- What the file's rows break, from two runs of the same rules (tenant_backup_validation_run): p_before on
-- the rows before the import's writes, p_after on the rows after them. p_file_keys: [{key, line}], the
-- primary key (as the checks name a row) of each row the file inserts or updates. Answers
-- [{line, column, message}]:
-- - an offending row whose key is one of the file's: that line, the rule's column and message;
-- - an offending row that did not offend before and is not one of the file's keys (a row whose key the
--   database made, a table without a primary key, another row a unique rule now finds twice): line null,
--   naming the row;
-- - a rule whose offending rows are more than the 1000 a run names: line null, since the file's rows
--   cannot be told from the others then; the import is refused until those rows are fixed.
-- A row that broke a rule before and that the file does not write is not the import's doing: not named.
create or replace function public.tenant_backup_module_rule_errors(
  p_rules jsonb, p_before jsonb, p_after jsonb, p_file_keys jsonb
) returns jsonb
language sql
immutable
set search_path = pg_catalog
as $$
  with rules as materialized (
    select r->>'id' as id, r->>'column' as col, 'breaks the rule: ' || (r->>'message') as message
    from jsonb_array_elements(p_rules) r
  ), runs as materialized (
    select a->>'rule_id' as id, (a->>'violations')::bigint as after_n, coalesce(a->'sample_keys', '[]') as after_keys,
           (b->>'violations')::bigint as before_n, coalesce(b->'sample_keys', '[]') as before_keys
    from jsonb_array_elements(p_after) a
    left join jsonb_array_elements(p_before) b on b->>'rule_id' = a->>'rule_id' and b->>'error' is null
    where a->>'error' is null
  ), files as materialized (
    select f->'key' as key, (f->>'line')::int as line from jsonb_array_elements(p_file_keys) f
  ), bad as materialized (
    select runs.id, k as key, runs.before_keys @> jsonb_build_array(k) as before
    from runs cross join lateral jsonb_array_elements(runs.after_keys) k
  ), errors as (
    select files.line, rules.col, rules.message
    from bad join files using (key) join rules using (id)
    union all
    select null, rules.col, format('after the import, row %s %s', bad.key::text, rules.message)
    from bad join rules using (id)
    where not bad.before and not exists (select 1 from files where files.key = bad.key)
    union all
    select null, rules.col,
           format('%s rows of the organization break the rule, more than an import compares with the file''s; fix them first (validate-tenant-data). The rule: %s',
                  greatest(runs.after_n, runs.before_n), rules.message)
    from runs join rules using (id)
    where runs.after_n > jsonb_array_length(runs.after_keys)
       or coalesce(runs.before_n, 0) > jsonb_array_length(runs.before_keys)
  )
  select coalesce(jsonb_agg(jsonb_build_object('line', line, 'column', col, 'message', message)
                            order by line nulls first, col), '[]')
  from errors;
$$;

create or replace function public.tenant_backup_module_import(
  p_import_id text, p_plan_id text, p_tenant text, p_table text, p_columns jsonb, p_mode text,
  p_dry_run boolean, p_log_id bigint, p_holder text, p_capture_id text, p_details jsonb,
  p_rules jsonb, p_now timestamptz
) returns jsonb
language plpgsql
volatile
security definer
set search_path = pg_catalog
set statement_timeout = '55s'
set datestyle = 'ISO, YMD'
set intervalstyle = 'postgres'
set timezone = 'UTC'
as $$
declare
  v_catalog jsonb := public.tenant_backup_plan_catalog(p_plan_id);
  v_table jsonb := public.tenant_backup_plan_table(v_catalog, p_table);
  v_target text := format('%I.%I', v_catalog->>'schema', p_table);
  v_scope text;
  v_cols text[] := array(select jsonb_array_elements_text(p_columns));
  v_types text[];
  v_col jsonb;
  v_pk text[];
  v_key_at int;
  v_i int;
  v_fk jsonb;
  v_ref jsonb;
  v_sql text;
  v_pk_given boolean;
  v_counts record;
  v_inserted bigint := 0;
  v_updated bigint := 0;
  v_n bigint;
  v_failure text;
  v_detail text;
  v_errors jsonb;
  v_total bigint;
  v_success boolean;
  v_file_keys jsonb;
  v_before jsonb;
  v_broken jsonb := '[]'::jsonb;
begin
  if v_table is null then
    raise exception using errcode = 'P0002', message = format('%I is not a tenant table', p_table);
  end if;
  if p_mode not in ('upsert', 'insert') then
    raise exception using errcode = '22023', message = 'p_mode must be upsert or insert';
  end if;
  v_scope := replace(v_table->>'scope', '$1::', quote_literal(p_tenant) || '::');
  v_pk := array(select jsonb_array_elements_text(coalesce(nullif(v_table->'primary_key', 'null'::jsonb), '[]')));
  -- Columns the import writes: the file's, plus the tenant key, which is always the caller's organization.
  if v_table->>'anchor' = 'key' and not (v_catalog->>'key' = any(v_cols)) then
    v_cols := v_cols || (v_catalog->>'key');
  end if;
  v_types := array(
    select (select c->>'type' from jsonb_array_elements(v_table->'columns') c
            where c->>'name' = u.n and not (c->>'generated')::boolean)
    from unnest(v_cols) with ordinality u(n, o) order by o);
  if array_position(v_types, null) is not null then
    raise exception using errcode = '22023',
      message = format('%s is not a stored column of %I', v_cols[array_position(v_types, null)], p_table);
  end if;

  drop table if exists pg_temp.tb_import_rows, pg_temp.tb_import_errors, pg_temp.tb_import_typed;
  create temp table tb_import_rows (line int primary key, v text[]) on commit drop;
  create temp table tb_import_errors (line int, col text, message text) on commit drop;
  insert into tb_import_rows
  select (l->>0)::int, array(select e from json_array_elements_text(l) with ordinality x(e, o) where o > 1 order by o)
  from public.tenant_backup_stage s
  cross join lateral unnest(string_to_array(s.lines, E'\n')) r(t)
  cross join lateral (select r.t::json) j(l)
  where s.restore_id = p_import_id and s.table_name = p_table;
  if v_table->>'anchor' = 'key' then
    v_key_at := array_position(v_cols, v_catalog->>'key');
    update tb_import_rows set v[v_key_at] = p_tenant where v[v_key_at] is null;
  end if;

  -- Type, then required: per column, one statement each.
  for v_i in 1..cardinality(v_cols) loop
    -- The type as a constant of the statement: pg_input_is_valid parses it once per call site.
    execute format('insert into tb_import_errors
                    select line, %L, format(%L, quote_literal(v[%s]))
                    from tb_import_rows where v[%s] is not null and not %s(v[%s], %L)',
                   v_cols[v_i], '%s is not a valid ' || v_types[v_i], v_i, v_i,
                   case when current_setting('server_version_num')::int >= 160000 then 'pg_input_is_valid'
                        else 'public.tenant_backup_module_cast_ok' end, v_i, v_types[v_i]);
    select c into v_col from jsonb_array_elements(v_table->'columns') c where c->>'name' = v_cols[v_i];
    if (v_col->>'not_null')::boolean then
      insert into tb_import_errors
      select line, v_cols[v_i], 'is required (the column is NOT NULL)'
      from tb_import_rows
      where v[v_i] is null
        -- An empty key with a default (identity, serial) is a new row whose key the database makes.
        and not (v_cols[v_i] = any(v_pk) and ((v_col->>'has_default')::boolean or v_col->>'identity' is not null));
    end if;
  end loop;

  -- The rows that passed, typed, in a table of their own.
  select format('create temp table tb_import_typed on commit drop as select r.line as tb_line, %s
                 from tb_import_rows r where not exists (select 1 from tb_import_errors e where e.line = r.line)',
                string_agg(format('r.v[%s]::%s as %I', o, t, c), ', ' order by o))
    into v_sql
  from unnest(v_cols, v_types) with ordinality u(c, t, o);
  execute v_sql;
  alter table tb_import_typed add column tb_action text;

  -- The tenant key: the caller's organization, whatever the file says.
  if v_table->>'anchor' = 'key' then
    execute format('insert into tb_import_errors select tb_line, %L, format(%L, %I::text, %L)
                    from tb_import_typed where %I is distinct from %L::%s',
                   v_catalog->>'key', 'belongs to organization %s; this import writes only organization %s''s rows',
                   v_catalog->>'key', p_tenant, v_catalog->>'key', p_tenant, v_types[v_key_at]);
  end if;

  -- Each check below looks at the rows no earlier one refused: a row is refused for its first reason.
  delete from tb_import_typed r where exists (select 1 from tb_import_errors e where e.line = r.tb_line);

  -- Primary key: another tenant's row is never touched; a key twice in the file is refused after its first line.
  v_pk_given := cardinality(v_pk) > 0 and v_pk <@ v_cols;
  if v_pk_given then
    execute format('insert into tb_import_errors select r.tb_line, %L, ''belongs to another organization''
                    from tb_import_typed r where exists (select 1 from %s t0 where %s and not (%s))',
                   array_to_string(v_pk, ','), v_target,
                   (select string_agg(format('t0.%I = r.%I', k, k), ' and ') from unnest(v_pk) k), v_scope);
    execute format('insert into tb_import_errors select r.tb_line, %L, format(''appears twice in the file (first on line %%s)'', r.first)
                    from (select tb_line, min(tb_line) over (partition by %s) as first from tb_import_typed where %s) r
                    where r.tb_line <> r.first',
                   array_to_string(v_pk, ','),
                   (select string_agg(format('%I', k), ', ') from unnest(v_pk) k),
                   (select string_agg(format('%I is not null', k), ' and ') from unnest(v_pk) k));
    execute format('update tb_import_typed r set tb_action = case when exists (select 1 from %s t0 where %s) then ''update'' else ''insert'' end',
                   v_target, (select string_agg(format('t0.%I = r.%I', k, k), ' and ') from unnest(v_pk) k));
    if p_mode = 'insert' then
      insert into tb_import_errors select tb_line, array_to_string(v_pk, ','), 'already exists (mode insert adds new rows only)'
      from tb_import_typed where tb_action = 'update';
    end if;
  else
    update tb_import_typed set tb_action = 'insert';
  end if;

  delete from tb_import_typed r where exists (select 1 from tb_import_errors e where e.line = r.tb_line);

  -- The tenant's parent row: a row whose parent key points elsewhere (or nowhere) is not this tenant's.
  if v_table->>'anchor' = 'parent' and (select bool_and(c = any(v_cols)) from jsonb_array_elements_text(v_table->'parent'->'columns') c) then
    v_ref := public.tenant_backup_plan_table(v_catalog, v_table->'parent'->>'table');
    execute format('insert into tb_import_errors select r.tb_line, %L, %L from tb_import_typed r
                    where not exists (select 1 from %I.%I t0 where %s and (%s))',
                   (select string_agg(c, ',') from jsonb_array_elements_text(v_table->'parent'->'columns') c),
                   format('does not point at a %s row of organization %s', v_ref->>'name', p_tenant),
                   v_catalog->>'schema', v_ref->>'name',
                   public.tenant_backup_fk_join(v_table->'parent', 't0', 'r'),
                   replace(v_ref->>'scope', '$1::', quote_literal(p_tenant) || '::'));
  elsif v_table->>'anchor' = 'root' and not (v_catalog->>'root_key' = any(v_cols)) then
    insert into tb_import_errors select tb_line, v_catalog->>'root_key', 'an organization cannot be added by an import'
    from tb_import_typed;
  elsif v_table->>'anchor' = 'root' then
    execute format('insert into tb_import_errors select tb_line, %L, ''belongs to another organization''
                    from tb_import_typed r where not exists (select 1 from %s t0 where t0.%I = r.%I and (%s))',
                   v_catalog->>'root_key', v_target, v_catalog->>'root_key', v_catalog->>'root_key', v_scope);
  end if;

  -- Every other foreign key from the table whose columns the file gives: the referenced row must exist,
  -- and be this tenant's when it is in a tenant table (or be a row of this same file).
  for v_fk in select f from jsonb_array_elements(v_catalog->'foreign_keys') f
              where f->>'table' = p_table and f->>'name' is distinct from v_table->'parent'->>'constraint' loop
    continue when not (select bool_and(c = any(v_cols)) from jsonb_array_elements_text(v_fk->'columns') c);
    v_ref := public.tenant_backup_plan_table(v_catalog, v_fk->>'ref_table');
    execute format('insert into tb_import_errors select r.tb_line, %L, %L from tb_import_typed r
                    where %s and not exists (select 1 from %I.%I t0 where %s%s)%s',
                   (select string_agg(c, ',') from jsonb_array_elements_text(v_fk->'columns') c),
                   format('unknown reference: no such %s row%s', v_fk->>'ref_table',
                          case when v_ref is not null then format(' of organization %s', p_tenant) else '' end),
                   (select string_agg(format('r.%I is not null', c), ' and ') from jsonb_array_elements_text(v_fk->'columns') c),
                   v_catalog->>'schema', v_fk->>'ref_table', public.tenant_backup_fk_join(v_fk, 't0', 'r'),
                   case when v_ref is not null then format(' and (%s)', replace(v_ref->>'scope', '$1::', quote_literal(p_tenant) || '::')) else '' end,
                   case when v_fk->>'ref_table' = p_table
                        then format(' and not exists (select 1 from tb_import_typed t0 where %s)', public.tenant_backup_fk_join(v_fk, 't0', 'r'))
                        else '' end);
  end loop;

  delete from tb_import_typed r where exists (select 1 from tb_import_errors e where e.line = r.tb_line);
  -- An update that would change nothing is not a change.
  if v_pk_given then
    execute format('update tb_import_typed r set tb_action = ''unchanged'' where tb_action = ''update'' and exists (
                      select 1 from %s t0 where %s and (%s) is not distinct from (%s))',
                   v_target, (select string_agg(format('t0.%I = r.%I', k, k), ' and ') from unnest(v_pk) k),
                   (select string_agg(format('t0.%I::text', c), ', ') from unnest(v_cols) c),
                   (select string_agg(format('r.%I::text', c), ', ') from unnest(v_cols) c));
  end if;
  select count(*) filter (where tb_action = 'insert') as ins, count(*) filter (where tb_action = 'update') as upd,
         count(*) filter (where tb_action = 'unchanged') as same
    into v_counts from tb_import_typed;
  v_total := (select count(distinct line) from tb_import_errors);

  if v_total = 0 then
    if not p_dry_run then
      perform public.tenant_backup_apply_lock(v_catalog->>'schema', array[p_table]);
      perform public.tenant_backup_apply_capture(p_plan_id, p_tenant, p_capture_id);
    end if;
    if jsonb_array_length(coalesce(p_rules, '[]'::jsonb)) > 0 then
      if v_pk_given then
        execute format('select coalesce(jsonb_agg(jsonb_build_object(''key'', jsonb_build_object(%s), ''line'', tb_line)), ''[]'')
                        from tb_import_typed where tb_action in (''insert'', ''update'') and %s',
                       (select string_agg(format('%L, %I::text', k, k), ', ') from unnest(v_pk) k),
                       (select string_agg(format('%I is not null', k), ' and ') from unnest(v_pk) k))
          into v_file_keys;
      end if;
      v_before := public.tenant_backup_validation_run(p_plan_id, p_tenant, p_rules, p_now, 1000);
    end if;
    begin
      -- The app's triggers fire on these writes (an import is a change the app should see) and name their
      -- tables as the app does: with the app's schema on the path, ours after it, temporary tables last.
      perform set_config('search_path', format('%I, pg_catalog, pg_temp', v_catalog->>'schema'), true);
      if v_pk_given and cardinality(v_cols) > cardinality(v_pk) then
        execute format('update %s t0 set (%s) = (select %s) from tb_import_typed r where r.tb_action = ''update'' and %s',
                       v_target,
                       (select string_agg(format('%I', c), ', ') from unnest(v_cols) c where not c = any(v_pk)),
                       (select string_agg(format('r.%I', c), ', ') from unnest(v_cols) c where not c = any(v_pk)),
                       (select string_agg(format('t0.%I = r.%I', k, k), ' and ') from unnest(v_pk) k));
        get diagnostics v_updated = row_count;
      end if;
      -- Rows with their key (identity keys included: the file says which row it is), then rows whose
      -- empty key the database makes.
      execute format('insert into %s (%s) overriding system value select %s from tb_import_typed
                      where tb_action = ''insert'' and %s order by tb_line',
                     v_target, (select string_agg(format('%I', c), ', ') from unnest(v_cols) c),
                     (select string_agg(format('%I', c), ', ') from unnest(v_cols) c),
                     coalesce((select string_agg(format('%I is not null', k), ' and ') from unnest(v_pk) k
                               where k = any(v_cols)), 'true'));
      get diagnostics v_inserted = row_count;
      if exists (select 1 from unnest(v_pk) k where k = any(v_cols)) then
        execute format('insert into %s (%s) select %s from tb_import_typed
                        where tb_action = ''insert'' and not (%s) order by tb_line',
                       v_target,
                       (select string_agg(format('%I', c), ', ') from unnest(v_cols) c where not c = any(v_pk)),
                       (select string_agg(format('%I', c), ', ') from unnest(v_cols) c where not c = any(v_pk)),
                       (select string_agg(format('%I is not null', k), ' and ') from unnest(v_pk) k where k = any(v_cols)));
        get diagnostics v_n = row_count;
        v_inserted := v_inserted + v_n;
      end if;
      perform public.tenant_backup_apply_sequences(v_catalog, array[p_table]);
      perform set_config('search_path', 'pg_catalog', true);
      -- The rules, on the tenant's rows as the import leaves them: what the file's rows break refuses them.
      if v_before is not null then
        v_broken := public.tenant_backup_module_rule_errors(p_rules, v_before,
          public.tenant_backup_validation_run(p_plan_id, p_tenant, p_rules, p_now, 1000), coalesce(v_file_keys, '[]'));
        if jsonb_array_length(v_broken) > 0 then
          raise exception using errcode = 'P0001', message = 'tenant_backup_module_import: rules broken';
        end if;
      end if;
      if p_dry_run then
        raise exception using errcode = 'P0001', message = 'tenant_backup_module_import: dry run';
      end if;
    exception when others then
      perform set_config('search_path', 'pg_catalog', true);
      if sqlerrm not in ('tenant_backup_module_import: dry run', 'tenant_backup_module_import: rules broken') then
        get stacked diagnostics v_detail = pg_exception_detail;
        v_failure := concat_ws(': ', sqlerrm, nullif(v_detail, ''));
      end if;
      v_inserted := 0;
      v_updated := 0;
    end;
  end if;

  if jsonb_array_length(v_broken) > 0 then
    insert into tb_import_errors select (e->>'line')::int, e->>'column', e->>'message' from jsonb_array_elements(v_broken) e;
    delete from tb_import_typed r where exists (select 1 from tb_import_errors e where e.line = r.tb_line);
    select count(*) filter (where tb_action = 'insert') as ins, count(*) filter (where tb_action = 'update') as upd,
           count(*) filter (where tb_action = 'unchanged') as same
      into v_counts from tb_import_typed;
    -- A row named without its line (one the database keyed) or the file as a whole counts as one more.
    v_total := (select count(distinct line) + count(*) filter (where line is null) from tb_import_errors);
  end if;
  v_success := v_total = 0 and v_failure is null;
  if not (v_success and not p_dry_run) then
    perform public.tenant_backup_undo_clear(p_capture_id);
  end if;
  select coalesce(jsonb_agg(jsonb_build_object('line', line, 'column', col, 'message', message) order by line, col), '[]')
    into v_errors
  from (select * from tb_import_errors order by line, col limit 1000) e;
  if v_failure is not null then
    v_errors := v_errors || jsonb_build_array(jsonb_build_object('line', null, 'column', null, 'message', v_failure));
  end if;
  perform public.tenant_backup_log_finish(p_log_id,
    case when v_success then 'completed' else 'failed' end,
    v_inserted + v_updated,
    case when v_failure is not null then v_failure when v_total > 0 then format('%s rows refused', v_total) end,
    coalesce(p_details, '{}'::jsonb) || jsonb_build_object(
      'summary', jsonb_build_object('would_insert', v_counts.ins, 'would_update', v_counts.upd,
                                    'unchanged', v_counts.same, 'refused', v_total,
                                    'inserted', v_inserted, 'updated', v_updated),
      'undo_backup_id', case when v_success and not p_dry_run then p_capture_id end));
  perform public.tenant_backup_lock_release(p_tenant, p_holder);
  perform public.tenant_backup_stage_clear(p_import_id);
  return jsonb_build_object(
    'success', v_success,
    'dry_run', p_dry_run,
    'summary', jsonb_build_object('would_insert', v_counts.ins, 'would_update', v_counts.upd,
                                  'unchanged', v_counts.same, 'refused', v_total,
                                  'inserted', v_inserted, 'updated', v_updated),
    'errors', v_errors,
    'errors_total', v_total + case when v_failure is not null then 1 else 0 end);
end;
$$;

select public.tenant_backup_restrict_functions(array[
  'tenant_backup_module_rule_errors', 'tenant_backup_module_import']);
