-- Tenant backup: who may reach what we install. Runs last and covers every table, view, sequence and
-- function of ours, found in the catalog, so a later migration that adds one only has to be numbered before
-- this file.
--
-- PostgreSQL grants EXECUTE on new functions to PUBLIC, and Supabase's default privileges grant every new
-- table, sequence and function in `public` to anon and authenticated: both would put tenant data one REST
-- call away from a browser. Revoke them all; only the service role (and the owner, for the direct
-- connection) remain.

do $$
declare
  r record;
  v_roles text := 'public';
  v_service boolean := exists (select 1 from pg_roles where rolname = 'service_role');
begin
  if exists (select 1 from pg_roles where rolname = 'anon') then v_roles := v_roles || ', anon'; end if;
  if exists (select 1 from pg_roles where rolname = 'authenticated') then
    v_roles := v_roles || ', authenticated';
  end if;

  -- Views and materialized views too: one named tenant_backup_* would otherwise be readable by anon.
  for r in
    select c.oid::regclass as rel, c.relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' and c.relkind in ('r', 'p', 'v', 'm', 'f')
      and (c.relname = 'backup_logs' or c.relname like 'tenant\_backup\_%')
  loop
    if r.relkind in ('r', 'p') then
      execute format('alter table %s enable row level security', r.rel);
    end if;
    execute format('revoke all on table %s from %s', r.rel, v_roles);
    if v_service then
      execute format('grant %s on table %s to service_role',
                     case when r.relkind = 'm' then 'select' else 'select, insert, update, delete' end, r.rel);
    end if;
  end loop;

  -- The sequences behind those tables' identity and serial columns (backup_logs.id and any added later).
  -- Default privileges hand them to anon as well: nextval would burn ids, setval would reset them.
  for r in
    select distinct s.oid::regclass as seq
    from pg_class s
    join pg_depend d on d.classid = 'pg_class'::regclass and d.objid = s.oid and d.deptype in ('a', 'i')
    join pg_class t on t.oid = d.refobjid
    join pg_namespace n on n.oid = t.relnamespace
    where s.relkind = 'S' and n.nspname = 'public'
      and (t.relname = 'backup_logs' or t.relname like 'tenant\_backup\_%')
  loop
    execute format('revoke all on sequence %s from %s', r.seq, v_roles);
    if v_service then
      execute format('grant usage, select on sequence %s to service_role', r.seq);
    end if;
  end loop;

  -- ON ROUTINE, not ON FUNCTION: the latter fails on a procedure ("is not a function") and would stop here.
  for r in
    select p.oid::regprocedure as sig from pg_proc p join pg_namespace n on n.oid = p.pronamespace
    where n.nspname = 'public' and p.proname like 'tenant\_backup\_%'
  loop
    execute format('revoke all on routine %s from %s', r.sig, v_roles);
    if v_service then
      execute format('grant execute on routine %s to service_role', r.sig);
    end if;
  end loop;

  if v_service then
    execute 'grant usage on schema public to service_role';
  end if;
end;
$$;
