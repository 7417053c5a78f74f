-- Tenant backup: typed staging tables keep their rows uncompressed.
--
-- PostgreSQL compresses (and may move out of line) the values of any row over about 2 kB before it stores
-- it. A staged row is written once, read once by the apply and dropped; the apply's insert into the
-- tenant's table compresses it as that table's storage says. Compressed in the staging table as well, it
-- costs that time twice. On the bench's table of 200 columns of mixed types (50,000 rows of about 3 kB), COPY
-- into a table like the staging table took 9.9 s with the default and 3.0–3.4 s without compression, and
-- the insert from it into the tenant's table 11.3 s against 7.5 s. toast_tuple_target at its largest (8160,
-- what an 8 kB page holds of one row) leaves a row up to that size as it is; a longer row (values of MBs)
-- is still compressed and moved out of line, so that it fits. Rows whose values compress well take more
-- room while the restore runs (at most a page each); those 200 columns took less (196 MB against 357 MB:
-- the values the default moved out of line cost more room than compression saved). The lines stage
-- (tenant_backup_stage.lines) already stores its text uncompressed (20261203000100).
--
-- As before (see 20261204000300), with the staging table created WITH (toast_tuple_target = 8160).
create or replace function public.tenant_backup_stage_typed_open(
  p_restore_id text, p_tenant text, p_plan_id text, p_spec jsonb
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = pg_catalog
as $$
declare
  v_name text := p_spec->>'name';
  v_relname text := 's_' || md5(p_restore_id || '/' || v_name);
  v_catalog jsonb;
  v_table jsonb;
  v_has_rows boolean;
begin
  if not exists (select 1 from public.tenant_backup_stage_typed where restore_id = p_restore_id and table_name = v_name) then
    if exists (select 1 from public.tenant_backup_stage where restore_id = p_restore_id and table_name = v_name) then
      return null;
    end if;
    v_catalog := public.tenant_backup_plan_catalog(p_plan_id);
    v_table := public.tenant_backup_plan_table(v_catalog, v_name);
    if v_table is null or not public.tenant_backup_apply_by_hash_ok(v_table, p_spec) then
      return null;
    end if;
    -- Where the tenant has rows, lines compared by hash cost less: only the rows that differ are typed,
    -- where typed staging parses every value, unchanged or not. Rows written after this moment are still
    -- compared right by either staging; this only chooses the cheaper one.
    execute format('select exists (select 1 from %I.%I t0 where %s)', v_catalog->>'schema', v_name, v_table->>'scope')
      into v_has_rows using p_tenant;
    if v_has_rows then
      return null;
    end if;
    execute format('create unlogged table tenant_backup_staging.%I (tb_page integer not null, tb_h uuid not null, %s)
                    with (toast_tuple_target = 8160)',
      v_relname,
      (select string_agg(format('%I %s', c->>'name', c->>'type'), ', ' order by o)
       from jsonb_array_elements(p_spec->'columns') with ordinality x(c, o)));
    execute format('revoke all on table tenant_backup_staging.%I from public', v_relname);
    insert into public.tenant_backup_stage_typed (restore_id, table_name, relname) values (p_restore_id, v_name, v_relname);
  end if;
  -- COPY runs as the connection's user: it may insert, and nothing more. Granted only where missing: two
  -- restores granting the schema at once would update its row concurrently.
  if not has_schema_privilege(session_user, 'tenant_backup_staging', 'USAGE') then
    grant usage on schema tenant_backup_staging to session_user;
  end if;
  if not has_table_privilege(session_user, format('tenant_backup_staging.%I', v_relname), 'INSERT') then
    execute format('grant insert on table tenant_backup_staging.%I to session_user', v_relname);
  end if;
  return jsonb_build_object('relation', format('tenant_backup_staging.%I', v_relname));
end;
$$;

select public.tenant_backup_restrict_functions(array['tenant_backup_stage_typed_open']);
