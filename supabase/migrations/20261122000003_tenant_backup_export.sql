-- Tenant backup: reading one tenant's rows of one table, a bounded page at a time, in primary-key order.
--
-- Every value leaves as the text of its type's output function, the same text COPY writes, so nothing is
-- lost on the way (bigint beyond 2^53, numeric, NaN and ±Infinity, bytea, arrays, jsonb, intervals) and a
-- restore reads it back through the type's input function. The session settings that change that text
-- are pinned on the function. A row is a JSON array of those texts (null for NULL), one row a line.
-- Generated columns are left out: a restore recomputes them.

-- The pieces of one table's export query, shared by the paged read and the streamed one so that both
-- produce the very same lines: {key, line, source, filter, order}. The filter holds the tenant id as $1.
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
  v_pk text[];
  v_key text;
  v_order text;
  v_after text := '';
begin
  select catalog into v_catalog from public.tenant_backup_plans where plan_id = p_plan_id;
  if v_catalog is null then
    raise exception using errcode = 'P0002', message = format('no plan %s: call tenant_backup_prepare', p_plan_id);
  end if;
  select t into v_table from jsonb_array_elements(v_catalog->'tables') as t where t->>'name' = p_table;
  if v_table is null then
    raise exception using errcode = 'P0002', message = format('%I is not a tenant table', p_table);
  end if;

  v_pk := array(select jsonb_array_elements_text(coalesce(nullif(v_table->'primary_key', 'null'::jsonb), '[]'::jsonb)));
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
      join jsonb_array_elements(v_table->'columns') as c on c->>'name' = u.k;
    end if;
  end if;
  return jsonb_build_object(
    'key', v_key,
    'line', format('array_to_json(array[%s])::text', v_table->>'select_list'),
    'source', format('%I.%I t0', v_catalog->>'schema', p_table),
    'filter', format('(%s)%s', v_table->>'scope', v_after),
    'order', v_order);
end;
$$;

-- One page of a tenant's rows of a table: {rows, bytes, data (lines joined by "\n"), last_key, done}.
-- The page ends at p_limit rows or once p_max_bytes of text is reached (at least one row), so that a
-- table of large rows still comes back in bounded answers. This is the PostgREST path's read.
create or replace function public.tenant_backup_export_page(
  p_plan_id text,
  p_table text,
  p_tenant text,
  p_after jsonb default null,
  p_limit integer default 1000,
  p_max_bytes integer default 8388608
) returns jsonb
language plpgsql
stable
set search_path = pg_catalog
set datestyle = 'ISO, YMD'
set intervalstyle = 'postgres'
set timezone = 'UTC'
set extra_float_digits = 1
set bytea_output = 'hex'
as $$
declare
  v_sql jsonb;
  v_result jsonb;
begin
  if p_limit is null or p_limit < 1 or p_limit > 100000 then
    raise exception using errcode = '22023', message = 'p_limit must be between 1 and 100000';
  end if;
  v_sql := public.tenant_backup_export_sql(p_plan_id, p_table, p_after);
  execute format($q$
    with page as materialized (
      select row_number() over (order by %1$s) as n, %2$s as k, %3$s as line
      from %4$s
      where %5$s
      order by %1$s
      limit %6$s
    ), sized as (
      select n, k, line, sum(octet_length(line) + 1) over (order by n) as upto from page
    ), kept as (
      select * from sized where upto - octet_length(line) - 1 < %7$s or n = 1
    )
    select jsonb_build_object(
      'rows', (select count(*) from kept),
      'bytes', coalesce((select max(upto) from kept), 0),
      'data', coalesce((select string_agg(line, E'\n' order by n) from kept), ''),
      'last_key', (select to_jsonb(k) from kept order by n desc limit 1),
      'done', (select count(*) from page) < %6$s and (select count(*) from kept) = (select count(*) from page))
  $q$, v_sql->>'order', v_sql->>'key', v_sql->>'line', v_sql->>'source', v_sql->>'filter', p_limit, p_max_bytes)
  into v_result
  using p_tenant;
  return v_result;
end;
$$;

-- The whole export of a table as one query, for the direct path's COPY (no parameters there, so the
-- tenant id is written in as a quoted literal). Same select as the pages; the session settings the
-- output depends on are set by the caller for its transaction (they are listed in 'settings').
create or replace function public.tenant_backup_export_query(
  p_plan_id text,
  p_table text,
  p_tenant text,
  p_after jsonb default null
) returns jsonb
language plpgsql
stable
set search_path = pg_catalog
as $$
declare
  v_sql jsonb := public.tenant_backup_export_sql(p_plan_id, p_table, p_after);
begin
  return jsonb_build_object(
    'query', format('select %s from %s where %s order by %s',
                    v_sql->>'line', v_sql->>'source',
                    -- $1 appears in the scope only as "$1::<type>", written by tenant_backup_catalog.
                    replace(v_sql->>'filter', '$1::', quote_literal(p_tenant) || '::'), v_sql->>'order'),
    'settings', jsonb_build_object('datestyle', 'ISO, YMD', 'intervalstyle', 'postgres', 'timezone', 'UTC',
                                   'extra_float_digits', '1', 'bytea_output', 'hex'));
end;
$$;
