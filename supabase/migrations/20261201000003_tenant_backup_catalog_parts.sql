-- Tenant backup: the catalog (which tables hold a tenant's rows, see 20261122000002) in parts, one function
-- each; tenant_backup_catalog keeps its signature and its answer:
--   tenant_backup_catalog_reach        the tenant tables, and how each is reached from the root
--   tenant_backup_catalog_order        the order to insert them in (parents first)
--   tenant_backup_catalog_scope        the predicate that selects one tenant's rows of a table
--   tenant_backup_catalog_table        one table's entry: columns, keys, scope, the backup's select list
--   tenant_backup_catalog_foreign_keys every foreign key touching a tenant table
--   tenant_backup_fk_columns           a foreign key's columns on one side, by name (shared)
-- Each function is left to the service role at the end of this file.

-- The names of relation p_rel's columns p_attnums, in that order, as a JSON array.
create or replace function public.tenant_backup_fk_columns(p_rel oid, p_attnums int2[]) returns jsonb
language sql
stable
set search_path = pg_catalog
as $$
  select jsonb_agg(a.attname order by k.ord)
  from unnest(p_attnums) with ordinality k(n, ord)
  join pg_attribute a on a.attrelid = p_rel and a.attnum = k.n;
$$;

-- The tenant tables among p_candidates, and how each is reached: the root p_root (depth 0, via null),
-- the tables with the tenant key column p_key (depth 1, via null), then, breadth first, each table that
-- references a table already reached (via: the foreign key, depth: its parent's + 1). A row belongs to
-- its tenant through the foreign key chosen here, so prefer one whose columns are all NOT NULL (a row
-- with NULL in a nullable key would belong to no tenant), then the parent nearest the root, then the
-- constraint name, so the answer is stable. Rows in the order reached.
create or replace function public.tenant_backup_catalog_reach(p_root oid, p_key text, p_candidates oid[])
returns table (tbl oid, depth int, via oid)
language plpgsql
stable
set search_path = pg_catalog
as $$
#variable_conflict use_column
declare
  v_tables oid[] := array[p_root];
  v_depth int[] := array[0];
  v_via oid[] := array[null::oid];
  v_added int;
  r record;
begin
  for r in
    select c.oid from pg_class c
    where c.oid = any(p_candidates) and c.oid <> p_root
      and exists (select 1 from pg_attribute a
                  where a.attrelid = c.oid and a.attname = p_key and a.attnum > 0 and not a.attisdropped)
    order by c.relname
  loop
    v_tables := v_tables || r.oid;
    v_depth := v_depth || 1;
    v_via := v_via || null::oid;
  end loop;
  loop
    v_added := 0;
    for r in
      select distinct on (con.conrelid) con.conrelid as child, con.oid as fk, s.depth
      from pg_constraint con
      join unnest(v_tables, v_depth) as s(tbl, depth) on s.tbl = con.confrelid
      where con.contype = 'f' and con.conrelid = any(p_candidates) and not con.conrelid = any(v_tables)
      order by con.conrelid,
        (select bool_and(a.attnotnull) from pg_attribute a
         where a.attrelid = con.conrelid and a.attnum = any(con.conkey)) desc,
        s.depth, con.conname
    loop
      v_tables := v_tables || r.child;
      v_depth := v_depth || (r.depth + 1);
      v_via := v_via || r.fk;
      v_added := v_added + 1;
    end loop;
    exit when v_added = 0;
  end loop;
  return query select * from unnest(v_tables, v_depth, v_via);
end;
$$;

-- The tables p_tables in insert order, parents first: Kahn's algorithm over the foreign keys between
-- them (self references left out), each round's tables by name. p_cycle: some tables reference each
-- other in a cycle; those come last, by name.
create or replace function public.tenant_backup_catalog_order(p_tables oid[], out p_order oid[], out p_cycle boolean)
language plpgsql
stable
set search_path = pg_catalog
as $$
declare
  v_remaining oid[] := p_tables;
  v_ready oid[];
begin
  p_order := '{}';
  p_cycle := false;
  loop
    exit when cardinality(v_remaining) = 0;
    select array_agg(t order by c.relname) into v_ready
    from unnest(v_remaining) as t join pg_class c on c.oid = t
    where not exists (
      select 1 from pg_constraint con
      where con.contype = 'f' and con.conrelid = t and con.confrelid <> t and con.confrelid = any(v_remaining));
    if v_ready is null then
      p_cycle := true;
      select array_agg(t order by c.relname) into v_ready from unnest(v_remaining) as t join pg_class c on c.oid = t;
    end if;
    p_order := p_order || v_ready;
    v_remaining := array(select unnest(v_remaining) except select unnest(v_ready));
  end loop;
end;
$$;

-- The predicate, on alias t0 with the tenant id as $1 (written "$1::<type>"), that selects one tenant's
-- rows of table p_tbl: from its anchor (the root's key, or the tenant key column p_key of a keyed table)
-- down to the table, each step an EXISTS on the parent through the foreign key the table was reached by
-- (p_via, as tenant_backup_catalog_reach answers it for p_tables).
create or replace function public.tenant_backup_catalog_scope(
  p_tbl oid, p_tables oid[], p_via oid[], p_root oid, p_root_key text, p_key text, p_schema text
) returns text
language plpgsql
stable
set search_path = pg_catalog
as $$
declare
  v_chain oid[] := array[p_tbl];
  v_fks oid[] := '{}';
  v_cur int := array_position(p_tables, p_tbl);
  v_anchor oid;
  v_cond text;
  i int;
begin
  while p_via[v_cur] is not null loop
    v_fks := v_fks || p_via[v_cur];
    select confrelid into v_anchor from pg_constraint where oid = p_via[v_cur];
    v_chain := v_chain || v_anchor;
    v_cur := array_position(p_tables, v_anchor);
  end loop;
  v_anchor := v_chain[cardinality(v_chain)];
  select format('t%s.%I = $1::%s', cardinality(v_chain) - 1, a.attname, format_type(a.atttypid, a.atttypmod))
    into v_cond
  from pg_attribute a
  where a.attrelid = v_anchor and a.attname = case when v_anchor = p_root then p_root_key else p_key end;
  for i in reverse cardinality(v_fks)..1 loop
    select format('exists (select 1 from %I.%I t%s where %s and %s)',
                  p_schema, pc.relname, i,
                  string_agg(format('t%s.%I = t%s.%I', i, pa.attname, i - 1, ca.attname), ' and ' order by k.ord),
                  v_cond)
      into v_cond
    from pg_constraint con
    join pg_class pc on pc.oid = con.confrelid
    cross join lateral unnest(con.conkey, con.confkey) with ordinality as k(ck, pk, ord)
    join pg_attribute ca on ca.attrelid = con.conrelid and ca.attnum = k.ck
    join pg_attribute pa on pa.attrelid = con.confrelid and pa.attnum = k.pk
    where con.oid = v_fks[i]
    group by pc.relname;
  end loop;
  return v_cond;
end;
$$;

-- The catalog's entry for table p_tbl, reached at depth p_depth through foreign key p_via (null for the
-- root and keyed tables), with scope p_scope: {name, depth, anchor (root, key or parent), parent (the
-- foreign key it was reached by), primary_key, columns, scope, select_list}.
create or replace function public.tenant_backup_catalog_table(
  p_tbl oid, p_depth int, p_via oid, p_is_root boolean, p_scope text
) returns jsonb
language sql
stable
set search_path = pg_catalog
as $$
  select jsonb_build_object(
    'name', c.relname,
    'depth', p_depth,
    'anchor', case when p_is_root then 'root' when p_via is null then 'key' else 'parent' end,
    'parent', (
      select jsonb_build_object(
        'constraint', con.conname,
        'nullable', not (select bool_and(a.attnotnull) from pg_attribute a
                         where a.attrelid = con.conrelid and a.attnum = any(con.conkey)),
        'table', pc.relname,
        'columns', public.tenant_backup_fk_columns(con.conrelid, con.conkey),
        'ref_columns', public.tenant_backup_fk_columns(con.confrelid, con.confkey))
      from pg_constraint con join pg_class pc on pc.oid = con.confrelid
      where con.oid = p_via),
    'primary_key', (
      select jsonb_agg(a.attname order by k.ord)
      from pg_index i
      cross join lateral unnest(i.indkey) with ordinality as k(attnum, ord)
      join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
      where i.indrelid = p_tbl and i.indisprimary),
    'columns', (
      select jsonb_agg(jsonb_build_object(
        'name', a.attname,
        'type', format_type(a.atttypid, a.atttypmod),
        'not_null', a.attnotnull,
        'generated', a.attgenerated <> '',
        'identity', case a.attidentity when 'a' then 'always' when 'd' then 'by_default' else null end,
        'has_default', a.atthasdef) order by a.attnum)
      from pg_attribute a
      where a.attrelid = p_tbl and a.attnum > 0 and not a.attisdropped),
    'scope', p_scope,
    -- The select list a backup reads: every stored column as its type's output text. Most types cast to
    -- text through their output function; the few whose cast to text is a function of its own (boolean
    -- gives 'true' where COPY writes 't', inet adds a netmask) go through format('%s'), which calls the
    -- output function but prints NULL as '', hence the case.
    'select_list', (
      select string_agg(
               case when exists (
                      select 1 from pg_cast pc
                      where pc.castsource = case when ty.typtype = 'd' then ty.typbasetype else a.atttypid end
                        and pc.casttarget = 'text'::regtype and pc.castmethod = 'f')
                    then format('case when t0.%1$I is null then null else format(''%%s'', t0.%1$I) end', a.attname)
                    else format('t0.%I::text', a.attname) end,
               ', ' order by a.attnum)
      from pg_attribute a join pg_type ty on ty.oid = a.atttypid
      where a.attrelid = p_tbl and a.attnum > 0 and not a.attisdropped and a.attgenerated = ''))
  from pg_class c where c.oid = p_tbl;
$$;

-- Every foreign key from or to one of the tenant tables p_tables, by table and name: {name, table,
-- columns, ref_table, ref_columns, ref_is_tenant, on_delete, deferrable, indexed}; '[]' when none.
create or replace function public.tenant_backup_catalog_foreign_keys(p_tables oid[]) returns jsonb
language sql
stable
set search_path = pg_catalog
as $$
  select coalesce(jsonb_agg(jsonb_build_object(
    'name', con.conname,
    'table', cc.relname,
    'columns', public.tenant_backup_fk_columns(con.conrelid, con.conkey),
    'ref_table', pc.relname,
    'ref_columns', public.tenant_backup_fk_columns(con.confrelid, con.confkey),
    'ref_is_tenant', con.confrelid = any(p_tables),
    'on_delete', case con.confdeltype when 'a' then 'no action' when 'r' then 'restrict' when 'c' then 'cascade'
                                      when 'n' then 'set null' when 'd' then 'set default' end,
    'deferrable', con.condeferrable,
    -- An index whose leading columns are the foreign key's: without one, every parent row deleted makes
    -- PostgreSQL scan the referencing table.
    'indexed', exists (
      select 1 from pg_index i
      where i.indrelid = con.conrelid
        and (i.indkey::int2[])[0:cardinality(con.conkey) - 1] @> con.conkey
        and (i.indkey::int2[])[0:cardinality(con.conkey) - 1] <@ con.conkey))
    order by cc.relname, con.conname), '[]'::jsonb)
  from pg_constraint con
  join pg_class cc on cc.oid = con.conrelid
  join pg_class pc on pc.oid = con.confrelid
  where con.contype = 'f' and (con.conrelid = any(p_tables) or con.confrelid = any(p_tables));
$$;

-- Which tables hold a tenant's rows, read from the schema itself (no list in code): the root table p_root
-- of schema p_schema, the tables with the tenant key column p_key, and the tables that reach one of those
-- through foreign keys (children, grandchildren, composite keys); tables that tenant rows merely point at
-- are global and left out, and so are our own. Answers {schema, root, key, root_key, cycle, tables (in
-- insert order, each as tenant_backup_catalog_table answers it), foreign_keys}. P0002 when the root
-- table is missing, 22023 when its primary key is not a single column.
create or replace function public.tenant_backup_catalog(
  p_root text default 'organizations',
  p_key text default 'organization_id',
  p_schema text default 'public'
) returns jsonb
language plpgsql
stable
set search_path = pg_catalog
as $$
declare
  v_root oid;
  v_root_pk text[];
  v_candidates oid[];
  v_tables oid[];
  v_depth int[];
  v_via oid[];
  v_order record;
begin
  select c.oid into v_root
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where n.nspname = p_schema and c.relname = p_root and c.relkind in ('r', 'p');
  if v_root is null then
    raise exception using errcode = 'P0002', message = format('tenant root table %I.%I not found', p_schema, p_root);
  end if;
  select array_agg(a.attname::text order by k.ord) into v_root_pk
  from pg_index i
  cross join lateral unnest(i.indkey) with ordinality as k(attnum, ord)
  join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
  where i.indrelid = v_root and i.indisprimary;
  if v_root_pk is null or cardinality(v_root_pk) <> 1 then
    raise exception using errcode = '22023',
      message = format('tenant root table %I.%I needs a single-column primary key', p_schema, p_root);
  end if;
  -- Our own tables are never tenant data, although backup_logs has an organization_id column.
  select array_agg(c.oid order by c.relname) into v_candidates
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where n.nspname = p_schema and c.relkind in ('r', 'p') and not c.relispartition
    and c.relname <> 'backup_logs' and c.relname not like 'tenant\_backup\_%';
  select array_agg(r.tbl order by o), array_agg(r.depth order by o), array_agg(r.via order by o)
    into v_tables, v_depth, v_via
  from public.tenant_backup_catalog_reach(v_root, p_key, v_candidates) with ordinality as r(tbl, depth, via, o);
  select * into v_order from public.tenant_backup_catalog_order(v_tables);
  return jsonb_build_object(
    'schema', p_schema,
    'root', p_root,
    'key', p_key,
    'root_key', v_root_pk[1],
    'cycle', v_order.p_cycle,
    'tables', (
      select jsonb_agg(public.tenant_backup_catalog_table(
               t, v_depth[array_position(v_tables, t)], v_via[array_position(v_tables, t)], t = v_root,
               public.tenant_backup_catalog_scope(t, v_tables, v_via, v_root, v_root_pk[1], p_key, p_schema))
             order by o)
      from unnest(v_order.p_order) with ordinality as x(t, o)),
    'foreign_keys', public.tenant_backup_catalog_foreign_keys(v_tables));
end;
$$;

select public.tenant_backup_restrict_functions(array[
  'tenant_backup_fk_columns', 'tenant_backup_catalog_reach', 'tenant_backup_catalog_order',
  'tenant_backup_catalog_scope', 'tenant_backup_catalog_table', 'tenant_backup_catalog_foreign_keys',
  'tenant_backup_catalog']);
