-- Tenant backup: the restore's apply, one function per phase. tenant_backup_apply keeps its signature and
-- its answer; the phases below are what it calls, in order, inside one transaction:
--   tenant_backup_apply_order     which tables, in insert order (parents first)
--   tenant_backup_apply_mode      replica mode when allowed, else "triggers", with a warning naming the
--                                 triggers that will fire
--   tenant_backup_apply_dropped   backup columns no longer in the table (a warning, or a refusal)
--   tenant_backup_apply_source    the staged lines as a temp table of the table's current types
--   tenant_backup_apply_compare   the statements that tell changed rows from equal ones, by primary key
--   tenant_backup_apply_old_keys  keys that rows elsewhere point at, as they are before the swap
--   tenant_backup_apply_rows      one table's deletes, or its updates and inserts
--   tenant_backup_apply_check_fk  one foreign key, checked once and set-based
--   tenant_backup_apply_sequences sequences moved past the restored keys
--   tenant_backup_apply_counts    the answer's per-table counts
--   tenant_backup_apply_error     the answer's error, from a caught exception
-- Shared helpers: tenant_backup_plan_catalog (a plan's catalog), tenant_backup_plan_table (one table of
-- it, with its scope), tenant_backup_fk_join (a foreign key's join condition), tenant_backup_add_ms (the
-- per-step timings).
--
-- The grants migration ran before this file and does not run again (each file is applied once), so this
-- file leaves what it creates to the service role itself, at its end, with tenant_backup_restrict_functions.

-- Leaves the functions named p_names (every overload, in schema public) to the service role: EXECUTE is
-- revoked from PUBLIC (which PostgreSQL grants it on every new function) and from anon and authenticated
-- (to which Supabase's default privileges grant it), and granted to service_role where that role exists.
-- For each later migration to call on what it creates. Answers the signatures it restricted.
create or replace function public.tenant_backup_restrict_functions(p_names text[]) returns text[]
language plpgsql
volatile
set search_path = pg_catalog
as $$
declare
  v_roles text := concat_ws(', ', 'public',
    (select 'anon' from pg_roles where rolname = 'anon'),
    (select 'authenticated' from pg_roles where rolname = 'authenticated'));
  v_signatures text[] := '{}';
  r record;
begin
  for r in
    select p.oid::regprocedure::text as sig from pg_proc p
    where p.pronamespace = 'public'::regnamespace and p.proname = any(p_names)
    order by 1
  loop
    -- ON ROUTINE, not ON FUNCTION: the latter fails on a procedure.
    execute format('revoke all on routine %s from %s', r.sig, v_roles);
    if exists (select 1 from pg_roles where rolname = 'service_role') then
      execute format('grant execute on routine %s to service_role', r.sig);
    end if;
    v_signatures := v_signatures || r.sig;
  end loop;
  return v_signatures;
end;
$$;

-- The catalog of plan p_plan_id, or P0002 when there is none (plans are dropped after a week unused).
create or replace function public.tenant_backup_plan_catalog(p_plan_id text) returns jsonb
language plpgsql
stable
set search_path = pg_catalog
as $$
declare
  v_catalog jsonb;
begin
  select catalog into v_catalog from public.tenant_backup_plans where plan_id = p_plan_id;
  if v_catalog is null then
    raise exception using errcode = 'P0002', message = format('no plan %s: call tenant_backup_prepare', p_plan_id);
  end if;
  return v_catalog;
end;
$$;

-- The catalog's entry for table p_name ({name, scope, columns, primary_key, ...}), or null. Its `scope`
-- is the predicate on alias t0, tenant id as $1, that selects the tenant's rows.
create or replace function public.tenant_backup_plan_table(p_catalog jsonb, p_name text) returns jsonb
language sql
immutable
set search_path = pg_catalog
as $$
  select t from jsonb_array_elements(p_catalog->'tables') t where t->>'name' = p_name;
$$;

-- The join condition of foreign key p_fk ({columns, ref_columns}) between alias p_ref (the referenced
-- table) and alias p_from (the referencing one): 'p_ref.ref1 = p_from.col1 and ...'.
create or replace function public.tenant_backup_fk_join(p_fk jsonb, p_ref text, p_from text) returns text
language sql
immutable
set search_path = pg_catalog
as $$
  select string_agg(format('%I.%I = %I.%I', p_ref, r, p_from, l), ' and ' order by o)
  from jsonb_array_elements_text(p_fk->'ref_columns') with ordinality a(r, o)
  join jsonb_array_elements_text(p_fk->'columns') with ordinality b(l, o2) on o = o2;
$$;

-- p_timings with the milliseconds since p_since added to step p_step (steps repeat per table and add up).
create or replace function public.tenant_backup_add_ms(p_timings jsonb, p_step text, p_since timestamptz)
returns jsonb
language sql
volatile
set search_path = pg_catalog
as $$
  select p_timings || jsonb_build_object(p_step, coalesce((p_timings->>p_step)::numeric, 0)
         + round((extract(epoch from clock_timestamp() - p_since) * 1000)::numeric, 1));
$$;

-- The names of the tables p_spec asks to restore, in the catalog's insert order (parents first), whatever
-- order the caller listed them in. 22023 when one of them is not a tenant table of the plan.
create or replace function public.tenant_backup_apply_order(p_catalog jsonb, p_spec jsonb) returns text[]
language plpgsql
immutable
set search_path = pg_catalog
as $$
declare
  v_names text[];
begin
  select array_agg(t->>'name' order by o) into v_names
  from jsonb_array_elements(p_catalog->'tables') with ordinality as c(t, o)
  where exists (select 1 from jsonb_array_elements(p_spec->'tables') s where s->>'name' = t->>'name');
  if coalesce(cardinality(v_names), 0) <> jsonb_array_length(p_spec->'tables') then
    raise exception using errcode = '22023', message = 'every table to restore must be a tenant table of the plan';
  end if;
  return v_names;
end;
$$;

-- Chooses the mode for p_mode ("auto", "replica" or "triggers") and answers {mode, warnings}.
--
-- Replica mode sets session_replication_role = replica until the transaction ends: the app's triggers and
-- PostgreSQL's per-row foreign-key triggers do not fire. It is set by a SET statement, never set_config():
-- on Supabase `postgres` is not a superuser, and supautils allows it this setting only through SET, checked
-- against current_user (the owner of tenant_backup_apply, which is SECURITY DEFINER); set_config() is
-- refused there. "auto" falls back to "triggers" when the SET is refused ("replica" then fails), with a
-- warning naming the restored tables' triggers (table.trigger) that will fire.
create or replace function public.tenant_backup_apply_mode(p_mode text, p_schema text, p_names text[])
returns jsonb
language plpgsql
volatile
set search_path = pg_catalog
as $$
declare
  v_triggers text;
begin
  if p_mode is null or p_mode not in ('auto', 'replica', 'triggers') then
    raise exception using errcode = '22023', message = 'mode must be auto, replica or triggers';
  end if;
  if p_mode = 'triggers' then
    return jsonb_build_object('mode', 'triggers', 'warnings', '[]'::jsonb);
  end if;
  begin
    set local session_replication_role = replica;
    p_mode := 'replica';
  exception when insufficient_privilege then
    if p_mode = 'replica' then raise; end if;
  end;
  if p_mode = 'replica' then
    return jsonb_build_object('mode', 'replica', 'warnings', '[]'::jsonb);
  end if;
  -- Enabled triggers of the restored tables: those that fire with session_replication_role = origin.
  select string_agg(format('%s.%s', c.relname, t.tgname), ', ' order by c.relname, t.tgname) into v_triggers
  from pg_trigger t
  join pg_class c on c.oid = t.tgrelid
  join pg_namespace n on n.oid = c.relnamespace
  where n.nspname = p_schema and c.relname = any(p_names) and not t.tgisinternal and t.tgenabled in ('O', 'A');
  return jsonb_build_object('mode', 'triggers', 'warnings', jsonb_build_array(format(
    'replica mode is not allowed (%s may not set session_replication_role), so the restore runs in mode '
    '"triggers": %s, and rows of tables outside the restore may not reference the restored rows',
    current_user,
    coalesce('these triggers fire for the rows it changes: ' || v_triggers, 'no trigger of the restored tables fires'))));
end;
$$;

-- Warnings for the backup columns of p_spec ({name, columns}) that are gone from table p_table, or now
-- generated: their values cannot be restored. An empty array when there are none. With p_refuse, such
-- columns are an error (TB002) instead, which allow_dropped_columns lifts.
create or replace function public.tenant_backup_apply_dropped(p_table jsonb, p_spec jsonb, p_refuse boolean)
returns jsonb
language plpgsql
immutable
set search_path = pg_catalog
as $$
declare
  v_gone text;
begin
  select string_agg(b->>'name', ', ' order by o) into v_gone
  from jsonb_array_elements(p_spec->'columns') with ordinality as x(b, o)
  where not exists (select 1 from jsonb_array_elements(p_table->'columns') c
                    where c->>'name' = b->>'name' and not (c->>'generated')::boolean);
  if v_gone is null then
    return '[]'::jsonb;
  end if;
  if p_refuse then
    raise exception using errcode = 'TB002', table = p_spec->>'name',
      message = format('%s: columns %s were dropped since the backup; pass allow_dropped_columns to restore without them',
                       p_spec->>'name', v_gone);
  end if;
  return jsonb_build_array(format(
    '%s: columns %s are in the backup but no longer in the table; their values are not restored', p_spec->>'name', v_gone));
end;
$$;

-- Turns restore p_restore_id's staged lines of table p_table into temp table p_src (dropped at commit),
-- every value back through its type's input function (the exact inverse of the export), cast to the
-- column's current type. Answers {rows_in_backup, columns (the restored columns, quoted and comma
-- separated), column_names (the same as an array: a quoted name may hold ", " and '"')}. TB003 when no
-- column of the backup is left, TB004 when the staged rows are not the backup's p_spec.row_count.
create or replace function public.tenant_backup_apply_source(
  p_restore_id text, p_table jsonb, p_spec jsonb, p_src text
) returns jsonb
language plpgsql
volatile
set search_path = pg_catalog
set datestyle = 'ISO, YMD'
set intervalstyle = 'postgres'
set timezone = 'UTC'
as $$
declare
  v_name text := p_table->>'name';
  v_colnames text[];
  v_cols text;
  v_casts text;
  v_n bigint;
begin
  select array_agg(b->>'name' order by b.o), string_agg(format('%I', b->>'name'), ', ' order by b.o),
         string_agg(format('(x.r->>%s)::%s as %I', b.o - 1, c->>'type', b->>'name'), ', ' order by b.o)
    into v_colnames, v_cols, v_casts
  from jsonb_array_elements(p_spec->'columns') with ordinality as b(b, o)
  join jsonb_array_elements(p_table->'columns') c on c->>'name' = b.b->>'name' and not (c->>'generated')::boolean;
  if v_cols is null then
    raise exception using errcode = 'TB003', message = format('%s: no column of the backup is left in the table', v_name);
  end if;
  execute format(
    'create temp table %I on commit drop as
     select %s from (select unnest(string_to_array(s.lines, E''\n''))::jsonb as r
                     from public.tenant_backup_stage s
                     where s.restore_id = $1 and s.table_name = $2 order by s.page) x',
    p_src, v_casts)
    using p_restore_id, v_name;
  get diagnostics v_n = row_count;
  if v_n <> (p_spec->>'row_count')::bigint then
    raise exception using errcode = 'TB004',
      message = format('%s: %s rows staged, the backup has %s', v_name, v_n, p_spec->>'row_count');
  end if;
  -- Statistics only where the planner's guess could pick a bad join; analyze costs more than it saves on
  -- small tables.
  if v_n > 5000 then
    execute format('analyze %I', p_src);
  end if;
  return jsonb_build_object('rows_in_backup', v_n, 'columns', v_cols, 'column_names', to_jsonb(v_colnames));
end;
$$;

-- For a table with a primary key, the pieces of the statements that match its rows (alias t0) with the
-- backup's (alias s), given the restored columns p_columns (an array of names):
-- {join, cmp (true where a row differs), set, set_from (every restored column but the key)}.
-- '{}' for a table without a primary key: it is replaced whole.
create or replace function public.tenant_backup_apply_compare(p_table jsonb, p_columns jsonb) returns jsonb
language sql
immutable
set search_path = pg_catalog
as $$
  -- The catalog holds JSON null (not SQL NULL) for a table without a primary key.
  with pk as (
    select k from jsonb_array_elements_text(
      case when jsonb_typeof(p_table->'primary_key') = 'array' then p_table->'primary_key' else '[]' end) k
  ), cols as (
    select x, o from jsonb_array_elements_text(p_columns) with ordinality as u(x, o)
  )
  select case when not exists (select 1 from pk) then '{}'::jsonb else jsonb_build_object(
    'join', (select string_agg(format('t0.%1$I = s.%1$I', k), ' and ') from pk),
    -- Compared as text, the form the backup holds: json and a few other types have no equality operator,
    -- and text tells apart values that compare equal (1.0 and 1.00, -0 and 0).
    'cmp', (select format('(%s) is distinct from (%s)', string_agg(format('t0.%I::text', x), ', ' order by o),
                          string_agg(format('s.%I::text', x), ', ' order by o)) from cols),
    -- Updated in place: every column but the key (equal by the join, and an identity key cannot be set).
    'set', (select string_agg(format('%I', x), ', ' order by o) from cols where x not in (select k from pk)),
    'set_from', (select string_agg(format('s.%I', x), ', ' order by o) from cols where x not in (select k from pk)))
  end;
$$;

-- Keeps in temp table p_old (dropped at commit) the keys that foreign key p_fk references in a restored
-- table, as they are now, so that the keys the swap makes disappear can be found afterwards. In mode
-- "triggers" it first refuses (TB005) when a table outside the restore points at the tenant's rows:
-- without replica mode, deleting a referenced row cascades, nulls or fails at once, even when the same
-- key comes back. Answers how many keys it kept (0 when p_old already exists in this transaction).
create or replace function public.tenant_backup_apply_old_keys(
  p_catalog jsonb, p_fk jsonb, p_names text[], p_mode text, p_tenant text, p_old text
) returns bigint
language plpgsql
volatile
set search_path = pg_catalog
as $$
declare
  v_schema text := p_catalog->>'schema';
  v_scope text := public.tenant_backup_plan_table(p_catalog, p_fk->>'ref_table')->>'scope';
  v_n bigint;
begin
  if p_mode = 'triggers' and not (p_fk->>'table' = any(p_names)) then
    execute format('select count(*) from %I.%I c where exists (select 1 from %I.%I t0 where %s and %s)',
                   v_schema, p_fk->>'table', v_schema, p_fk->>'ref_table', v_scope,
                   public.tenant_backup_fk_join(p_fk, 't0', 'c'))
      into v_n using p_tenant;
    if v_n > 0 then
      raise exception using errcode = 'TB005',
        message = format('%s rows of %s (not being restored) reference %s through foreign key %s (on delete %s); restore %s too',
                         v_n, p_fk->>'table', p_fk->>'ref_table', p_fk->>'name', p_fk->>'on_delete', p_fk->>'table'),
        table = p_fk->>'table', constraint = p_fk->>'name';
    end if;
  end if;
  execute format('create temp table if not exists %I on commit drop as select %s from %I.%I t0 where %s',
                 p_old, (select string_agg(format('t0.%I', r), ', ') from jsonb_array_elements_text(p_fk->'ref_columns') r),
                 v_schema, p_fk->>'ref_table', v_scope)
    using p_tenant;
  get diagnostics v_n = row_count;
  return v_n;
end;
$$;

-- Makes the tenant's rows of one table the backup's (temp table p_src), by primary key, for step p_step:
-- "delete" removes the rows the backup does not have; "write" updates those that differ and inserts those
-- missing. Rows already equal are not touched. In replica mode "delete" also deletes the rows that differ,
-- and "write" writes them back whole with the missing ones: an UPDATE checks unique indexes row by row,
-- so it fails when rows swapped or passed on a unique value since the backup (two emails swapped);
-- nothing cascades in replica mode. A table without a primary key is replaced whole by "write".
-- Answers p_stats (the table's entry from the source and compare phases) with the row counts of these
-- statements added: deleted, updated (a row written back counts as updated), inserted.
create or replace function public.tenant_backup_apply_rows(
  p_step text, p_mode text, p_schema text, p_table jsonb, p_src text, p_stats jsonb, p_tenant text
) returns jsonb
language plpgsql
volatile
set search_path = pg_catalog
set datestyle = 'ISO, YMD'
set intervalstyle = 'postgres'
set timezone = 'UTC'
-- Rows are compared as text: floats must print exactly (with 0 or less, 0.1 and 0.1000000000000001 look
-- alike and a changed value would be left as it is).
set extra_float_digits = 1
as $$
declare
  v_name text := p_table->>'name';
  v_scope text := p_table->>'scope';
  v_cols text := p_stats->>'columns';
  v_n bigint := 0;
begin
  -- The app's triggers fire in mode "triggers", and they are written for the app's search_path, not for
  -- this function's: they get the session's own (pg_settings.reset_val, which SET clauses do not change),
  -- behind pg_catalog so that no built-in is shadowed. Restored at this function's exit.
  if p_mode = 'triggers' then
    perform set_config('search_path', concat_ws(', ', 'pg_catalog',
      nullif((select reset_val from pg_settings where name = 'search_path'), '')), true);
  end if;
  if not p_stats ? 'join' then
    if p_step = 'delete' then
      return p_stats;
    end if;
    execute format('delete from %I.%I t0 where %s', p_schema, v_name, v_scope) using p_tenant;
    get diagnostics v_n = row_count;
    p_stats := p_stats || jsonb_build_object('deleted', v_n, 'updated', 0);
    execute format('insert into %I.%I (%s) overriding system value select %s from %I', p_schema, v_name, v_cols, v_cols, p_src);
    get diagnostics v_n = row_count;
    return p_stats || jsonb_build_object('inserted', v_n);
  end if;
  if p_step = 'delete' then
    execute format('delete from %I.%I t0 where %s and not exists (select 1 from %I s where %s)',
                   p_schema, v_name, v_scope, p_src, p_stats->>'join') using p_tenant;
    get diagnostics v_n = row_count;
    p_stats := p_stats || jsonb_build_object('deleted', v_n);
    if p_mode = 'replica' then
      execute format('delete from %I.%I t0 using %I s where %s and %s and %s',
                     p_schema, v_name, p_src, p_stats->>'join', v_scope, p_stats->>'cmp') using p_tenant;
      get diagnostics v_n = row_count;
      p_stats := p_stats || jsonb_build_object('updated', v_n);
    end if;
    return p_stats;
  end if;
  if p_mode = 'replica' then
    v_n := (p_stats->>'updated')::bigint;
  elsif p_stats->>'set' is not null then
    execute format('update %I.%I t0 set (%s) = row(%s) from %I s where %s and %s and %s',
                   p_schema, v_name, p_stats->>'set', p_stats->>'set_from', p_src, p_stats->>'join', v_scope,
                   p_stats->>'cmp') using p_tenant;
    get diagnostics v_n = row_count;
  end if;
  p_stats := p_stats || jsonb_build_object('updated', v_n);
  -- A key held by a row outside the tenant's scope is not skipped: the insert then fails on it.
  execute format('insert into %I.%I (%s) overriding system value
                  select %s from %I s where not exists (select 1 from %I.%I t0 where %s and %s)',
                 p_schema, v_name, v_cols, v_cols, p_src, p_schema, v_name, p_stats->>'join', v_scope)
    using p_tenant;
  get diagnostics v_n = row_count;
  -- In replica mode the rows written back (counted as updated) are among those inserted.
  return p_stats || jsonb_build_object('inserted', v_n - case when p_mode = 'replica' then (p_stats->>'updated')::bigint else 0 end);
end;
$$;

-- Checks foreign key p_fk once, set-based, after the rows are swapped: every restored row of a referencing
-- table (temp tables tb_src_<position in p_names>) has its referenced row (23503 otherwise), and no row
-- anywhere points at a key the restore made disappear, found from the keys kept in p_old (TB005
-- otherwise). Answers how many referenced keys disappeared (0 when the restore kept them all).
create or replace function public.tenant_backup_apply_check_fk(
  p_schema text, p_fk jsonb, p_names text[], p_old text
) returns bigint
language plpgsql
volatile
set search_path = pg_catalog
as $$
declare
  v_gone text := 'tb_gone_' || md5(p_old);
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
  -- The referenced keys the restore made disappear: usually none, and then nothing is scanned.
  execute format('create temp table %I on commit drop as
                  select * from %I o where not exists (select 1 from %I.%I p where %s)',
                 v_gone, p_old, p_schema, p_fk->>'ref_table',
                 (select string_agg(format('p.%1$I = o.%1$I', r), ' and ')
                  from jsonb_array_elements_text(p_fk->'ref_columns') r));
  get diagnostics v_gone_keys = row_count;
  if v_gone_keys > 0 then
    execute format('select count(*) from %I.%I c join %I g on %s',
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

-- Moves the sequences behind the restored tables' columns past the restored keys (never back: other
-- tenants use them too). Answers how many sequences it moved.
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
    select n.name, c->>'name' as col, pg_get_serial_sequence(format('%I.%I', v_schema, n.name), c->>'name') as seq
    from unnest(p_names) n(name)
    cross join lateral jsonb_array_elements(public.tenant_backup_plan_table(p_catalog, n.name)->'columns') c
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

-- The answer's tables from the apply's per-table entries p_report: {name: {rows_in_backup, rows_now,
-- would_insert, would_delete, would_change}}; the would_* are null for a phase not reached, and
-- would_change is null for a table without a primary key (replaced whole).
create or replace function public.tenant_backup_apply_counts(p_report jsonb) returns jsonb
language sql
immutable
set search_path = pg_catalog
as $$
  select coalesce(jsonb_object_agg(k, jsonb_build_object(
           'rows_in_backup', v->'rows_in_backup',
           -- The tenant's rows before: those the backup also has, plus those it removes.
           'rows_now', (v->>'rows_in_backup')::bigint - coalesce((v->>'inserted')::bigint, 0) + coalesce((v->>'deleted')::bigint, 0),
           'would_insert', v->'inserted', 'would_delete', v->'deleted',
           'would_change', case when v ? 'join' then v->'updated' end)), '{}'::jsonb)
  from jsonb_each(p_report) e(k, v);
$$;

-- The answer's error object from a caught exception's diagnostics: {sqlstate, message, detail, hint,
-- table, constraint, context}, empty ones left out. No context for our own errors (TB...): their message
-- says where.
create or replace function public.tenant_backup_apply_error(
  p_state text, p_message text, p_detail text, p_hint text, p_table text, p_constraint text, p_context text
) returns jsonb
language sql
immutable
set search_path = pg_catalog
as $$
  select jsonb_strip_nulls(jsonb_build_object(
    'sqlstate', p_state, 'message', p_message, 'detail', nullif(p_detail, ''), 'hint', nullif(p_hint, ''),
    'table', nullif(p_table, ''), 'constraint', nullif(p_constraint, ''),
    'context', case when p_state like 'TB%' then null else nullif(p_context, '') end));
$$;

-- Applies a staged restore in ONE transaction: the tenant's current rows in the restored tables go and the
-- backup's rows come in, or nothing changes at all. A dry run runs the very same statements and rolls
-- them back. p_spec:
--   { "tables": [{ "name", "row_count", "columns": [{ "name", "type" }] }, ...]   backup tables to restore
--     "mode": "auto" | "replica" | "triggers",  "allow_dropped_columns": bool }
-- Answers { success, dry_run, mode (the one that ran), tables: { name: { rows_in_backup, rows_now,
-- would_insert, would_delete, would_change } }, warnings, timings_ms (milliseconds per step), error }.
-- Errors found before anything changes (no plan, a table not of the plan, a mode not allowed) are raised.
--
-- In replica mode (see tenant_backup_apply_mode) no per-row foreign-key trigger fires: every foreign key
-- touching a restored table is checked once, set-based, before the end. Deletes go first there (children
-- first), so that a unique value freed by a removed row can be taken again. With per-row foreign-key
-- triggers (mode "triggers"), rows are written (parents first) before the rows they stop pointing at are
-- deleted (children first).
--
-- SECURITY DEFINER so that the service role (PostgREST) gets the owner's right to set
-- session_replication_role; the phases it calls run as the owner too. Its own statement_timeout: PostgREST
-- applies it per request, in place of the 8 s its role has on Supabase, within the ~60 s the API allows.
create or replace function public.tenant_backup_apply(
  p_restore_id text, p_plan_id text, p_tenant text, p_spec jsonb, p_dry_run boolean
) returns jsonb
language plpgsql
volatile
security definer
set search_path = pg_catalog
set statement_timeout = '55s'
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
      v_stats := public.tenant_backup_apply_source(p_restore_id, v_table, v_spec, 'tb_src_' || v_i);
      v_timings := public.tenant_backup_add_ms(v_timings, 'stage_to_rows', v_clock);
      v_clock := clock_timestamp();
      v_report := v_report || jsonb_build_object(v_names[v_i],
                    v_stats || public.tenant_backup_apply_compare(v_table, v_stats->'column_names'));
      v_timings := public.tenant_backup_add_ms(v_timings, 'compare', v_clock);
    end loop;
    for v_fk in select f from jsonb_array_elements(v_catalog->'foreign_keys') f where f->>'ref_table' = any(v_names) loop
      v_clock := clock_timestamp();
      perform public.tenant_backup_apply_old_keys(v_catalog, v_fk, v_names, v_mode->>'mode', p_tenant,
                                                  'tb_old_' || md5((v_fk->>'name') || (v_fk->>'table')));
      v_timings := public.tenant_backup_add_ms(v_timings, 'old_keys', v_clock);
    end loop;
    for v_step in select unnest(case when v_mode->>'mode' = 'replica' then array['delete', 'write'] else array['write', 'delete'] end) loop
      for v_i in 1 .. cardinality(v_names) loop
        v_name := v_names[case when v_step = 'delete' then cardinality(v_names) + 1 - v_i else v_i end];
        v_clock := clock_timestamp();
        v_report := v_report || jsonb_build_object(v_name, public.tenant_backup_apply_rows(
          v_step, v_mode->>'mode', v_schema, public.tenant_backup_plan_table(v_catalog, v_name),
          'tb_src_' || array_position(v_names, v_name), v_report->v_name, p_tenant));
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

select public.tenant_backup_restrict_functions(array[
  'tenant_backup_restrict_functions', 'tenant_backup_plan_catalog', 'tenant_backup_plan_table',
  'tenant_backup_fk_join', 'tenant_backup_add_ms', 'tenant_backup_apply_order', 'tenant_backup_apply_mode',
  'tenant_backup_apply_dropped', 'tenant_backup_apply_source', 'tenant_backup_apply_compare',
  'tenant_backup_apply_old_keys', 'tenant_backup_apply_rows', 'tenant_backup_apply_check_fk',
  'tenant_backup_apply_sequences', 'tenant_backup_apply_counts', 'tenant_backup_apply_error',
  'tenant_backup_apply']);
