-- Tenant backup: which tables hold a tenant's rows, read from the schema itself (no list in code).
--
-- A table is tenant data when it is the root table (default `organizations`), has the tenant key column
-- (default `organization_id`), or reaches one of those through a foreign key (children, grandchildren,
-- composite keys). Tables that tenant rows merely point at are global and left out. The answer also
-- says, per table, how to select one tenant's rows (`scope`, a predicate on alias t0 with the tenant id as
-- $1), the order to insert in (parents first), and every foreign key that touches a tenant table.

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
  v_added int;
  v_order oid[] := '{}';
  v_remaining oid[];
  v_ready oid[];
  v_cycle boolean := false;
  v_result jsonb := '[]'::jsonb;
  v_tbl oid;
  v_idx int;
  v_scope text;
  v_chain_alias int;
  v_con record;
  r record;
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

  v_tables := array[v_root];
  v_depth := array[0];
  v_via := array[null::oid];

  for r in
    select c.oid from pg_class c
    where c.oid = any(v_candidates) and c.oid <> v_root
      and exists (select 1 from pg_attribute a
                  where a.attrelid = c.oid and a.attname = p_key and a.attnum > 0 and not a.attisdropped)
    order by c.relname
  loop
    v_tables := v_tables || r.oid;
    v_depth := v_depth || 1;
    v_via := v_via || null::oid;
  end loop;

  -- Breadth first: each pass adds the tables that reference an already scoped table. A row belongs to
  -- its tenant through the foreign key chosen here, so prefer one whose columns are all NOT NULL (a row
  -- with NULL in a nullable key would belong to no tenant), then the parent nearest the root, then the
  -- constraint name, so the answer is stable.
  loop
    v_added := 0;
    for r in
      select distinct on (con.conrelid) con.conrelid as child, con.oid as fk, s.depth
      from pg_constraint con
      join unnest(v_tables, v_depth) as s(tbl, depth) on s.tbl = con.confrelid
      where con.contype = 'f' and con.conrelid = any(v_candidates) and not con.conrelid = any(v_tables)
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

  -- Insert order: Kahn's algorithm over the foreign keys between tenant tables (self references left out).
  v_remaining := v_tables;
  loop
    exit when cardinality(v_remaining) = 0;
    select array_agg(t order by c.relname) into v_ready
    from unnest(v_remaining) as t join pg_class c on c.oid = t
    where not exists (
      select 1 from pg_constraint con
      where con.contype = 'f' and con.conrelid = t and con.confrelid <> t and con.confrelid = any(v_remaining));
    if v_ready is null then
      v_cycle := true;
      select array_agg(t order by c.relname) into v_ready from unnest(v_remaining) as t join pg_class c on c.oid = t;
    end if;
    v_order := v_order || v_ready;
    v_remaining := array(select unnest(v_remaining) except select unnest(v_ready));
  end loop;

  foreach v_tbl in array v_order loop
    -- Build the scope predicate from the anchor (root or keyed table) down to this table: each step is an
    -- EXISTS on the parent through the foreign key the table was reached by.
    v_idx := array_position(v_tables, v_tbl);
    v_chain_alias := 0;
    v_scope := null;
    declare
      v_chain oid[] := array[v_tbl];
      v_fks oid[] := '{}';
      v_cur int := v_idx;
      v_anchor oid;
      v_cond text;
      i int;
    begin
      while v_via[v_cur] is not null loop
        v_fks := v_fks || v_via[v_cur];
        select confrelid into v_anchor from pg_constraint where oid = v_via[v_cur];
        v_chain := v_chain || v_anchor;
        v_cur := array_position(v_tables, v_anchor);
      end loop;
      v_anchor := v_chain[cardinality(v_chain)];
      if v_anchor = v_root then
        select format('t%s.%I = $1::%s', cardinality(v_chain) - 1, a.attname, format_type(a.atttypid, a.atttypmod))
          into v_cond
        from pg_attribute a where a.attrelid = v_root and a.attname = v_root_pk[1];
      else
        select format('t%s.%I = $1::%s', cardinality(v_chain) - 1, a.attname, format_type(a.atttypid, a.atttypmod))
          into v_cond
        from pg_attribute a where a.attrelid = v_anchor and a.attname = p_key;
      end if;
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
      v_scope := v_cond;
    end;

    select v_result || jsonb_build_array(jsonb_build_object(
      'name', c.relname,
      'depth', v_depth[v_idx],
      'anchor', case when v_tbl = v_root then 'root' when v_via[v_idx] is null then 'key' else 'parent' end,
      'parent', (
        select jsonb_build_object(
          'constraint', con.conname,
          'nullable', not (select bool_and(a.attnotnull) from pg_attribute a
                           where a.attrelid = con.conrelid and a.attnum = any(con.conkey)),
          'table', pc.relname,
          'columns', (select jsonb_agg(a.attname order by k.ord) from unnest(con.conkey) with ordinality k(n, ord)
                      join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.n),
          'ref_columns', (select jsonb_agg(a.attname order by k.ord) from unnest(con.confkey) with ordinality k(n, ord)
                          join pg_attribute a on a.attrelid = con.confrelid and a.attnum = k.n))
        from pg_constraint con join pg_class pc on pc.oid = con.confrelid
        where con.oid = v_via[v_idx]),
      'primary_key', (
        select jsonb_agg(a.attname order by k.ord)
        from pg_index i
        cross join lateral unnest(i.indkey) with ordinality as k(attnum, ord)
        join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
        where i.indrelid = v_tbl and i.indisprimary),
      'columns', (
        select jsonb_agg(jsonb_build_object(
          'name', a.attname,
          'type', format_type(a.atttypid, a.atttypmod),
          'not_null', a.attnotnull,
          'generated', a.attgenerated <> '',
          'identity', case a.attidentity when 'a' then 'always' when 'd' then 'by_default' else null end,
          'has_default', a.atthasdef) order by a.attnum)
        from pg_attribute a
        where a.attrelid = v_tbl and a.attnum > 0 and not a.attisdropped),
      'scope', v_scope,
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
        where a.attrelid = v_tbl and a.attnum > 0 and not a.attisdropped and a.attgenerated = '')))
    into v_result
    from pg_class c where c.oid = v_tbl;
  end loop;

  return jsonb_build_object(
    'schema', p_schema,
    'root', p_root,
    'key', p_key,
    'root_key', v_root_pk[1],
    'cycle', v_cycle,
    'tables', v_result,
    'foreign_keys', coalesce((
      select jsonb_agg(jsonb_build_object(
        'name', con.conname,
        'table', cc.relname,
        'columns', (select jsonb_agg(a.attname order by k.ord) from unnest(con.conkey) with ordinality k(n, ord)
                    join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.n),
        'ref_table', pc.relname,
        'ref_columns', (select jsonb_agg(a.attname order by k.ord) from unnest(con.confkey) with ordinality k(n, ord)
                        join pg_attribute a on a.attrelid = con.confrelid and a.attnum = k.n),
        'ref_is_tenant', con.confrelid = any(v_tables),
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
        order by cc.relname, con.conname)
      from pg_constraint con
      join pg_class cc on cc.oid = con.conrelid
      join pg_class pc on pc.oid = con.confrelid
      where con.contype = 'f' and (con.conrelid = any(v_tables) or con.confrelid = any(v_tables))), '[]'::jsonb));
end;
$$;

-- How to read the tenants themselves: the root table's single-column key, its type, and the select that
-- names a tenant (its `name` column when it has one). Shared by the tenant list and the lookup by id.
create or replace function public.tenant_backup_root(
  p_root text default 'organizations',
  p_schema text default 'public'
) returns jsonb
language plpgsql
stable
set search_path = pg_catalog
as $$
declare
  v_result jsonb;
begin
  select jsonb_build_object(
           'key', a.attname,
           'type', format_type(a.atttypid, a.atttypmod),
           'name', case when exists (
                          select 1 from pg_attribute na
                          where na.attrelid = c.oid and na.attname = 'name' and na.attnum > 0 and not na.attisdropped)
                        then 't.name::text' else 'null::text' end)
    into v_result
  from pg_class c
  join pg_namespace n on n.oid = c.relnamespace
  join pg_index i on i.indrelid = c.oid and i.indisprimary and i.indnatts = 1
  join pg_attribute a on a.attrelid = c.oid and a.attnum = i.indkey[0]
  where n.nspname = p_schema and c.relname = p_root;
  if v_result is null then
    raise exception using errcode = 'P0002',
      message = format('tenant root table %I.%I not found or without a single-column primary key', p_schema, p_root);
  end if;
  return v_result;
end;
$$;

-- The tenants: every row of the root table, with a display name when the table has a `name` column.
create or replace function public.tenant_backup_list_tenants(
  p_root text default 'organizations',
  p_schema text default 'public'
) returns jsonb
language plpgsql
stable
set search_path = pg_catalog
as $$
declare
  v_root jsonb := public.tenant_backup_root(p_root, p_schema);
  v_result jsonb;
begin
  execute format(
    'select coalesce(jsonb_agg(jsonb_build_object(''id'', t.%1$I::text, ''name'', %2$s) order by t.%1$I), ''[]''::jsonb)
     from %3$I.%4$I t',
    v_root->>'key', v_root->>'name', p_schema, p_root)
  into v_result;
  return v_result;
end;
$$;

-- Computes the catalog and keeps it as a plan for the page reads of a run. Answers the catalog with its
-- plan_id. Plans unused for a week are dropped here, so the table stays small.
create or replace function public.tenant_backup_prepare(
  p_root text default 'organizations',
  p_key text default 'organization_id',
  p_schema text default 'public'
) returns jsonb
language plpgsql
volatile
set search_path = pg_catalog
as $$
declare
  v_catalog jsonb := public.tenant_backup_catalog(p_root, p_key, p_schema);
  v_plan_id text := md5(v_catalog::text);
begin
  insert into public.tenant_backup_plans (plan_id, catalog) values (v_plan_id, v_catalog)
  on conflict (plan_id) do update set used_at = now();
  delete from public.tenant_backup_plans where used_at < now() - interval '7 days';
  return v_catalog || jsonb_build_object('plan_id', v_plan_id);
end;
$$;
