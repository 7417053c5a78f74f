-- Tenant backup: who may reach what we install. Runs last and covers every table and function of ours,
-- so a later migration that adds one only has to be numbered before this file.
--
-- PostgreSQL grants EXECUTE on new functions to PUBLIC, and Supabase's default privileges grant every new
-- table and function in `public` to anon and authenticated: both would put tenant data one REST call away
-- from a browser. Revoke them all; only the service role (and the owner, for the direct connection) remain.

do $$
declare
  r record;
  v_roles text := 'public';
begin
  if exists (select 1 from pg_roles where rolname = 'anon') then v_roles := v_roles || ', anon'; end if;
  if exists (select 1 from pg_roles where rolname = 'authenticated') then
    v_roles := v_roles || ', authenticated';
  end if;

  for r in
    select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' and c.relkind = 'r'
      and (c.relname = 'backup_logs' or c.relname like 'tenant\_backup\_%')
  loop
    execute format('alter table public.%I enable row level security', r.relname);
    execute format('revoke all on table public.%I from %s', r.relname, v_roles);
    if exists (select 1 from pg_roles where rolname = 'service_role') then
      execute format('grant select, insert, update, delete on table public.%I to service_role', r.relname);
    end if;
  end loop;

  for r in
    select p.oid::regprocedure as sig from pg_proc p join pg_namespace n on n.oid = p.pronamespace
    where n.nspname = 'public' and p.proname like 'tenant\_backup\_%'
  loop
    execute format('revoke all on function %s from %s', r.sig, v_roles);
    if exists (select 1 from pg_roles where rolname = 'service_role') then
      execute format('grant execute on function %s to service_role', r.sig);
    end if;
  end loop;

  if exists (select 1 from pg_roles where rolname = 'service_role') then
    execute 'grant usage on schema public to service_role';
  end if;
end;
$$;

-- The identity sequence behind backup_logs.id, for inserts made as the service role.
do $$
begin
  if exists (select 1 from pg_roles where rolname = 'service_role') then
    execute 'grant usage, select on sequence public.backup_logs_id_seq to service_role';
  end if;
  execute 'revoke all on sequence public.backup_logs_id_seq from public';
  if exists (select 1 from pg_roles where rolname = 'anon') then
    execute 'revoke all on sequence public.backup_logs_id_seq from anon';
  end if;
  if exists (select 1 from pg_roles where rolname = 'authenticated') then
    execute 'revoke all on sequence public.backup_logs_id_seq from authenticated';
  end if;
end;
$$;
