-- Tenant backup: one moment for the whole tenant, whatever the number of calls.
--
-- A backup runs over many calls (each within its time budget) and, through PostgREST, every page is a
-- request of its own: reading each table as it comes would mix moments, and a child row could be in the
-- backup without its parent. So a run first copies every tenant row of every tenant table into
-- tenant_backup_snapshot in ONE statement (one statement sees one snapshot of the database, at any
-- isolation level), each row already as its export line; every later page or stream of that run reads
-- that copy. The copy costs about the tenant's export size in the database until the run ends (then it
-- is dropped): on Supabase Free (500 MB) a tenant needs that much room free while it is backed up.
--
-- Unlogged: a scratch area, never worth WAL. PostgreSQL empties it after a crash; each run also keeps a
-- marker row (table_name '', seq 0) that a resumed run checks, and retakes its copy when it is gone.

create unlogged table if not exists public.tenant_backup_snapshot (
  backup_id text not null,
  table_name text not null,
  -- 1, 2, … per table, in primary-key order (physical order for a table without one): pages are ranges.
  seq bigint not null,
  line text not null,
  primary key (backup_id, table_name, seq)
);

-- Our tables are the service role's only (as 20261122000099 does for the earlier ones).
do $$
declare
  v_roles text := concat_ws(', ', 'public',
    (select 'anon' from pg_roles where rolname = 'anon'),
    (select 'authenticated' from pg_roles where rolname = 'authenticated'));
begin
  alter table public.tenant_backup_snapshot enable row level security;
  execute format('revoke all on table public.tenant_backup_snapshot from %s', v_roles);
  if exists (select 1 from pg_roles where rolname = 'service_role') then
    grant select, insert, update, delete on table public.tenant_backup_snapshot to service_role;
  end if;
end;
$$;

-- Copies the tenant's rows of every table of plan p_plan_id (or only of the tables named in the jsonb
-- array p_tables) for run
-- p_backup_id, replacing any earlier copy of that run, and drops the copies of runs that are no longer
-- running. Answers { "taken_at", "rows": { "<table>": n } } (every table copied, 0 included).
-- On a direct connection a call may first read some tables itself at one moment (a REPEATABLE READ
-- transaction); if it cannot finish, it calls this inside that same transaction for the tables left,
-- so that the copy is of that moment too, and its row numbers continue what the call read (same order).
create or replace function public.tenant_backup_snapshot_take(
  p_backup_id text, p_plan_id text, p_tenant text, p_tables jsonb default null
) returns jsonb
language plpgsql
volatile
set search_path = pg_catalog
set datestyle = 'ISO, YMD'
set intervalstyle = 'postgres'
set timezone = 'UTC'
set extra_float_digits = 1
set bytea_output = 'hex'
set statement_timeout = '55s'
as $$
declare
  v_catalog jsonb := public.tenant_backup_plan_catalog(p_plan_id);
  v_parts text[] := '{}';
  v_table jsonb;
  v_sql jsonb;
  v_rows jsonb;
begin
  delete from public.tenant_backup_snapshot s
  where s.backup_id = p_backup_id
     or s.backup_id in (select m.backup_id from public.tenant_backup_snapshot m
                        left join public.tenant_backup_runs r on r.backup_id = m.backup_id
                        where m.table_name = '' and m.seq = 0 and coalesce(r.status, 'failed') <> 'running');
  for v_table in select t from jsonb_array_elements(v_catalog->'tables') as t
                 where p_tables is null or p_tables ? (t->>'name') loop
    v_sql := public.tenant_backup_export_sql(p_plan_id, v_table->>'name');
    -- Numbered in the export's order (the key, or ctid for a table without one): the order a direct read
    -- of the same moment gives, so that a count of rows read there is a row number here.
    v_parts := v_parts || format(
      'select $2, %L, row_number() over (order by %s), %s from %s where %s',
      v_table->>'name', v_sql->>'order', v_sql->>'line', v_sql->>'source', v_sql->>'filter');
  end loop;
  -- The marker row, and every table, in one statement: one snapshot.
  execute format(
    'insert into public.tenant_backup_snapshot (backup_id, table_name, seq, line) select $2, %L, 0, %L %s',
    '', '', (select string_agg(' union all ' || p, '') from unnest(v_parts) p))
  using p_tenant, p_backup_id;
  select jsonb_object_agg(t->>'name', coalesce(c.n, 0)) into v_rows
  from jsonb_array_elements(v_catalog->'tables') as t
  left join (select table_name, count(*) as n from public.tenant_backup_snapshot
             where backup_id = p_backup_id and table_name <> '' group by table_name) c
    on c.table_name = t->>'name'
  where p_tables is null or p_tables ? (t->>'name');
  return jsonb_build_object('taken_at', clock_timestamp(), 'rows', coalesce(v_rows, '{}'::jsonb));
end;
$$;

-- Whether run p_backup_id's copy is still there (false after a crash emptied the table, or once dropped).
create or replace function public.tenant_backup_snapshot_present(p_backup_id text) returns jsonb
language sql
stable
set search_path = pg_catalog
as $$
  select to_jsonb(exists (select 1 from public.tenant_backup_snapshot
                          where backup_id = p_backup_id and table_name = '' and seq = 0));
$$;

-- Drops run p_backup_id's copy; answers how many rows went.
create or replace function public.tenant_backup_snapshot_drop(p_backup_id text) returns jsonb
language sql
volatile
set search_path = pg_catalog
set statement_timeout = '55s'
as $$
  with gone as (delete from public.tenant_backup_snapshot where backup_id = p_backup_id returning 1)
  select to_jsonb(count(*)) from gone;
$$;

-- One page of a table's copied rows after row p_after (0: from the start), as tenant_backup_export_page
-- answers it: {rows, bytes, data, last_key: [last seq as text], done}. At most p_limit rows, ending with
-- the first row whose text starts at or after p_max_bytes (at least one row). The PostgREST path's read.
create or replace function public.tenant_backup_snapshot_page(
  p_backup_id text, p_table text, p_after bigint default 0, p_limit integer default 1000,
  p_max_bytes integer default 8388608
) returns jsonb
language plpgsql
stable
set search_path = pg_catalog
set statement_timeout = '55s'
as $$
declare
  v_result jsonb;
begin
  if p_limit is null or p_limit < 1 or p_limit > 100000 then
    raise exception using errcode = '22023', message = 'p_limit must be between 1 and 100000';
  end if;
  with page as materialized (
    select s.seq, s.line from public.tenant_backup_snapshot s
    where s.backup_id = p_backup_id and s.table_name = p_table
      and s.seq > coalesce(p_after, 0) and s.seq <= coalesce(p_after, 0) + p_limit
  ), sized as (
    select seq, line, sum(octet_length(line) + 1) over (order by seq) as upto from page
  ), kept as (
    select * from sized where upto - octet_length(line) - 1 < p_max_bytes or seq = coalesce(p_after, 0) + 1
  )
  select jsonb_build_object(
    'rows', (select count(*) from kept),
    'bytes', coalesce((select max(upto) from kept), 0),
    'data', coalesce((select string_agg(line, E'\n' order by seq) from kept), ''),
    'last_key', (select jsonb_build_array(max(seq)::text) from kept having count(*) > 0),
    'done', (select count(*) from page) < p_limit and (select count(*) from kept) = (select count(*) from page))
  into v_result;
  return v_result;
end;
$$;

-- A table's copied rows after row p_after as one query, for the direct path's COPY: {query, settings}
-- as tenant_backup_export_query answers it (the lines are already text: no settings needed).
create or replace function public.tenant_backup_snapshot_query(
  p_backup_id text, p_table text, p_after bigint default 0
) returns jsonb
language sql
stable
set search_path = pg_catalog
as $$
  select jsonb_build_object(
    'query', format('select line from public.tenant_backup_snapshot where backup_id = %L and table_name = %L'
                    ' and seq > %s order by seq', p_backup_id, p_table, coalesce(p_after, 0)),
    'settings', '{}'::jsonb);
$$;

select public.tenant_backup_restrict_functions(array[
  'tenant_backup_snapshot_take', 'tenant_backup_snapshot_present', 'tenant_backup_snapshot_drop',
  'tenant_backup_snapshot_page', 'tenant_backup_snapshot_query']);
