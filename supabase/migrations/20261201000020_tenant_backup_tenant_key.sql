-- One tenant, one spelling. An organization id arrives as text, and PostgreSQL casts it to the root key's
-- type wherever it meets the tenant's rows: for a uuid key `00000000000040008000000000000001` and an
-- upper-case UUID are the same tenant. Leases, rate limits, storage folders and logs are keyed by text, so
-- every id is first made the key's canonical text, exactly as PostgreSQL prints a value of that type.
--
-- Answers {"valid": true, "id": <canonical text>}, or {"valid": false, "type", "message"} when the text is
-- not a value of the key's type (a word for a uuid key, a number out of range, a string longer than a
-- varchar(n) key allows: the explicit cast would silently cut it, so the value must survive the typmod).
-- Runs with the caller's rights: it reads only the catalog.
create or replace function public.tenant_backup_tenant_key(
  p_id text, p_root text default 'organizations', p_schema text default 'public'
) returns jsonb
language plpgsql
stable
set search_path = pg_catalog
as $$
declare
  v_type text := public.tenant_backup_root(p_root, p_schema)->>'type';
  v_base text := to_regtype(v_type)::text;
  v_id text;
  v_fits boolean;
begin
  execute format('select v::%2$s::text, v::%2$s = v from (select $1::%1$s as v) s', v_base, v_type)
    into v_id, v_fits using p_id;
  if not v_fits then
    return jsonb_build_object('valid', false, 'type', v_type,
                              'message', format('value does not fit type %s', v_type));
  end if;
  return jsonb_build_object('valid', true, 'id', v_id);
exception when data_exception then
  return jsonb_build_object('valid', false, 'type', v_type, 'message', sqlerrm);
end;
$$;

-- Only the service role (and the owner, on the direct connection) may call it: see
-- tenant_backup_restrict_functions (20261201000001).
select public.tenant_backup_restrict_functions(array['tenant_backup_tenant_key']);
