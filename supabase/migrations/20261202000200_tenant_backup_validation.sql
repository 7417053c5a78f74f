-- Tenant backup: data validation rules, and their checks, set-based inside PostgreSQL.
--
-- A rule names a tenant table, a column and a kind (required, format, range, date_order, not_in_past,
-- not_in_future, references, unique_in_tenant, one_of) with the kind's parameters. Rules belong to the
-- schema, not to a tenant: every tenant's rows are checked against the same rules (validation-rules edits
-- them, lib/validation/rules.ts checks their shape against the tenant catalog before they are stored).
--
--   tenant_backup_validation_rules          the rules
--   tenant_backup_validation_rule_list      every rule, oldest first
--   tenant_backup_validation_rule_add       stores a rule (or finds the same one), checking a regex first
--   tenant_backup_validation_rule_delete    removes a rule by id
--   tenant_backup_validation_predicate      a rule's violation test on alias t0, as SQL text
--   tenant_backup_validation_pattern        a format rule's regular expression
--   tenant_backup_validation_key            how a check names and orders the offending rows
--   tenant_backup_validation_ref            a references rule's CTE of the referenced values
--   tenant_backup_validation_check          ONE query: how many of a tenant's rows break a rule, and the
--                                           keys of the first ones
--   tenant_backup_validation_run            every rule given, one check each (the dry-run restore's call)
--   tenant_backup_apply_checked             a dry-run restore's apply that also checks the rules against
--                                           the backup's rows, then rolls everything back
-- Each is left to the service role at the end of this file.

create table if not exists public.tenant_backup_validation_rules (
  id uuid primary key default gen_random_uuid(),
  table_name text not null,
  column_name text not null,
  kind text not null check (kind in ('required', 'format', 'range', 'date_order', 'not_in_past',
                                     'not_in_future', 'references', 'unique_in_tenant', 'one_of')),
  params jsonb not null default '{}'::jsonb check (jsonb_typeof(params) = 'object'),
  enabled boolean not null default true,
  created_at timestamptz not null default now(),
  constraint tenant_backup_validation_rules_once unique (table_name, column_name, kind, params)
);

-- Only the service role (and the owner, on the direct connection) reaches the table, as backup_logs.
alter table public.tenant_backup_validation_rules enable row level security;
do $$
declare
  v_roles text := concat_ws(', ', 'public',
    (select 'anon' from pg_roles where rolname = 'anon'),
    (select 'authenticated' from pg_roles where rolname = 'authenticated'));
begin
  execute format('revoke all on table public.tenant_backup_validation_rules from %s', v_roles);
  if exists (select 1 from pg_roles where rolname = 'service_role') then
    execute 'grant select, insert, update, delete on table public.tenant_backup_validation_rules to service_role';
  end if;
end;
$$;

-- Every rule as {id, table, column, kind, params, enabled, created_at}, oldest first.
create or replace function public.tenant_backup_validation_rule_list() returns jsonb
language sql
stable
set search_path = pg_catalog
as $$
  select coalesce(jsonb_agg(jsonb_build_object(
           'id', r.id, 'table', r.table_name, 'column', r.column_name, 'kind', r.kind, 'params', r.params,
           'enabled', r.enabled, 'created_at', r.created_at) order by r.created_at, r.table_name, r.column_name, r.kind, r.id), '[]'::jsonb)
  from public.tenant_backup_validation_rules r;
$$;

-- Stores a rule and answers {rule} (the same rule again updates only `enabled`), or {error: {field,
-- message}} when PostgreSQL's regex engine refuses params.pattern (a format rule's own expression): the
-- pattern is tried here, where it will run, so that no stored rule fails later for its syntax.
create or replace function public.tenant_backup_validation_rule_add(
  p_table text, p_column text, p_kind text, p_params jsonb, p_enabled boolean default true
) returns jsonb
language plpgsql
volatile
set search_path = pg_catalog
as $$
declare
  v_rule jsonb;
begin
  if p_kind = 'format' and p_params ? 'pattern' then
    begin
      perform '' ~ (p_params->>'pattern');
    exception when invalid_regular_expression then
      return jsonb_build_object('error', jsonb_build_object('field', 'params.pattern',
        'message', format('is not a regular expression PostgreSQL accepts: %s', sqlerrm)));
    end;
  end if;
  insert into public.tenant_backup_validation_rules as r (table_name, column_name, kind, params, enabled)
  values (p_table, p_column, p_kind, coalesce(p_params, '{}'::jsonb), coalesce(p_enabled, true))
  on conflict on constraint tenant_backup_validation_rules_once do update set enabled = excluded.enabled
  returning jsonb_build_object('id', r.id, 'table', r.table_name, 'column', r.column_name, 'kind', r.kind,
                               'params', r.params, 'enabled', r.enabled, 'created_at', r.created_at)
  into v_rule;
  return jsonb_build_object('rule', v_rule);
end;
$$;

-- Removes rule p_id; answers whether there was one.
create or replace function public.tenant_backup_validation_rule_delete(p_id uuid) returns jsonb
language sql
volatile
set search_path = pg_catalog
as $$
  with gone as (delete from public.tenant_backup_validation_rules where id = p_id returning 1)
  select to_jsonb(exists (select 1 from gone));
$$;

-- The test that row t0 of table p_table (a catalog entry) breaks rule p_rule ({kind, column, params}), as
-- SQL text. Identifiers are quoted here; values are never written in: they are the check's parameters
--   $2 text    the pattern (format)            $3 numeric  min (range)     $4 numeric  max (range)
--   $5 text[]  the allowed values (one_of)     $6 timestamptz  "now" (not_in_past, not_in_future)
-- references and unique_in_tenant compare with the tenant's other rows: they read CTE "ref" (the
-- referenced column's values) or the window column "tb_dupes", which tenant_backup_validation_check adds.
create or replace function public.tenant_backup_validation_predicate(p_table jsonb, p_rule jsonb) returns text
language plpgsql
immutable
set search_path = pg_catalog
as $$
declare
  v_col text := format('t0.%I', p_rule->>'column');
  v_type text := (select c->>'type' from jsonb_array_elements(p_table->'columns') c
                  where c->>'name' = p_rule->>'column');
  v_now text;
begin
  if v_type is null then
    raise exception using errcode = 'P0002',
      message = format('%s.%s: no such column', p_table->>'name', p_rule->>'column');
  end if;
  -- "now" in the column's own terms: a date compares with today's UTC date, a timestamp without time zone
  -- with the UTC wall clock.
  v_now := case when v_type = 'date' then '($6 at time zone ''UTC'')::date'
                when v_type like 'timestamp%without time zone' then '($6 at time zone ''UTC'')'
                else '$6' end;
  return case p_rule->>'kind'
    when 'required' then format('(%1$s is null or %1$s::text !~ ''\S'')', v_col)
    when 'format' then format('(%1$s is not null and %1$s::text !~ $2)', v_col)
    when 'range' then format('(%1$s is not null and (%1$s::numeric < $3 or %1$s::numeric > $4 or ($8 and %1$s::numeric <= 0)))', v_col)
    when 'date_order' then format('(%1$s is not null and t0.%2$I is not null and %1$s %3$s t0.%2$I)',
                                  v_col, p_rule->'params'->>'before',
                                  case when coalesce((p_rule->'params'->>'strict')::boolean, false) then '>=' else '>' end)
    when 'not_in_past' then format('(%1$s is not null and %1$s < %2$s)', v_col, v_now)
    when 'not_in_future' then format('(%1$s is not null and %1$s > %2$s)', v_col, v_now)
    when 'references' then format('(%1$s is not null and not exists (select 1 from ref where ref.v = %1$s%2$s))',
                                  v_col, case when p_rule->>'same_type' = 'true' then '' else '::text' end)
    when 'unique_in_tenant' then '(t0.tb_dupes > 1)'
    when 'one_of' then format('(%1$s is not null and not (%1$s::text = any ($5)))', v_col)
  end;
end;
$$;

-- The pattern a format rule tests: its own (params.pattern), or the named format's. Deliberately loose:
-- they catch what is plainly wrong (no @, a space, no scheme), not every address a standard refuses.
create or replace function public.tenant_backup_validation_pattern(p_params jsonb) returns text
language sql
immutable
set search_path = pg_catalog
as $$
  select coalesce(p_params->>'pattern', case p_params->>'format'
    when 'email' then '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:].]+$'
    when 'url' then '^https?://[^[:space:]/?#]+[^[:space:]]*$'
    when 'uuid' then '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
    when 'phone' then '^\+?[0-9]([0-9 ().-]{4,}[0-9])$'
  end);
$$;

-- How a check names and orders the offending rows of table p_table (a catalog entry), as SQL on alias t0:
-- {extra: columns "scoped" adds, key: the jsonb naming a row, carry: the sort columns carried out of
-- "scoped" as tb_o1, tb_o2, …, sort: the order by over them}. By primary key; a table without one names a
-- row by its text (the first 200 characters), {"row": ...}, and sorts by it.
create or replace function public.tenant_backup_validation_key(p_table jsonb) returns jsonb
language sql
immutable
set search_path = pg_catalog
as $$
  select case when coalesce(jsonb_array_length(nullif(p_table->'primary_key', 'null'::jsonb)), 0) = 0 then
    jsonb_build_object('extra', ', left(t0::text, 200) as tb_row', 'key', 'jsonb_build_object(''row'', t0.tb_row)',
                       'carry', 't0.tb_row as tb_o1', 'sort', 't0.tb_o1')
  else (
    select jsonb_build_object(
      'extra', '',
      'key', 'jsonb_build_object(' || string_agg(format('%L, t0.%I::text', k, k), ', ' order by o) || ')',
      'carry', string_agg(format('t0.%I as tb_o%s', k, o), ', ' order by o),
      'sort', string_agg(format('t0.tb_o%s', o), ', ' order by o))
    from jsonb_array_elements_text(p_table->'primary_key') with ordinality as u(k, o))
  end;
$$;

-- For a references rule on a column of type p_type: the CTE "ref" holding the referenced column's values
-- among the same tenant's rows of the referenced table (params {table, column}), in a CTE of its own so
-- that its scope's t0 is its own alias; compared as the column's type when both have it, else as text.
-- Answers {with, same_type}. P0002 when that table or column is not in the catalog.
create or replace function public.tenant_backup_validation_ref(p_catalog jsonb, p_params jsonb, p_type text)
returns jsonb
language plpgsql
immutable
set search_path = pg_catalog
as $$
declare
  v_ref jsonb := public.tenant_backup_plan_table(p_catalog, p_params->>'table');
  v_type text := (select c->>'type' from jsonb_array_elements(v_ref->'columns') c
                  where c->>'name' = p_params->>'column');
begin
  if v_ref is null then
    raise exception using errcode = 'P0002', message = format('%s is not a tenant table', p_params->>'table');
  end if;
  if v_type is null then
    raise exception using errcode = 'P0002',
      message = format('%s.%s: no such column', p_params->>'table', p_params->>'column');
  end if;
  return jsonb_build_object(
    'with', format('with ref as materialized (select t0.%I%s as v from %I.%I t0 where %s), ',
                   p_params->>'column', case when v_type = p_type then '' else '::text' end,
                   p_catalog->>'schema', p_params->>'table', v_ref->>'scope'),
    'same_type', v_type = p_type);
end;
$$;

-- How many of tenant p_tenant's rows of rule p_rule's table (plan p_plan_id) break the rule, and the keys
-- of the first p_sample of them in key order: {violations, sample_keys: [{<key column>: <text>}, ...]}.
-- ONE query, scoped to the tenant by the table's catalog scope (the predicate a backup selects the
-- tenant's rows by); a references rule reads the referenced table's rows of the same tenant only, and a
-- unique_in_tenant rule counts duplicates among the tenant's rows only.
-- p_rule: {kind, table, column, params}; p_now: the time not_in_past / not_in_future compare with.
-- Read only; its own statement_timeout (PostgREST applies it per request), like the export's pages.
create or replace function public.tenant_backup_validation_check(
  p_plan_id text, p_tenant text, p_rule jsonb, p_now timestamptz, p_sample integer default 10
) returns jsonb
language plpgsql
stable
set search_path = pg_catalog
set datestyle = 'ISO, YMD'
set intervalstyle = 'postgres'
set timezone = 'UTC'
set statement_timeout = '55s'
as $$
declare
  v_catalog jsonb := public.tenant_backup_plan_catalog(p_plan_id);
  v_table jsonb := public.tenant_backup_plan_table(v_catalog, p_rule->>'table');
  v_params jsonb := coalesce(p_rule->'params', '{}'::jsonb);
  v_kind text := p_rule->>'kind';
  v_rule jsonb := p_rule;
  v_key jsonb;
  v_with text := 'with ';
  v_extra text;
  v_ref jsonb;
  v_result jsonb;
begin
  if v_table is null then
    raise exception using errcode = 'P0002', message = format('%s is not a tenant table', p_rule->>'table');
  end if;
  if p_sample is null or p_sample < 0 or p_sample > 1000 then
    raise exception using errcode = '22023', message = 'p_sample must be between 0 and 1000';
  end if;
  v_key := public.tenant_backup_validation_key(v_table);
  v_extra := v_key->>'extra';
  if v_kind = 'references' then
    v_ref := public.tenant_backup_validation_ref(v_catalog, v_params,
      (select c->>'type' from jsonb_array_elements(v_table->'columns') c where c->>'name' = p_rule->>'column'));
    v_with := v_ref->>'with';
    v_rule := v_rule || jsonb_build_object('same_type', v_ref->'same_type');
  elsif v_kind = 'unique_in_tenant' then
    v_extra := v_extra || format(
      ', case when t0.%1$I is null then 0 else count(*) over (partition by t0.%1$I) end as tb_dupes', p_rule->>'column');
  end if;
  execute v_with || format(
    'scoped as (select t0.*%1$s from %2$I.%3$I t0 where %4$s), '
    'bad as materialized (select %5$s as k, %6$s from scoped t0 where %7$s) '
    'select jsonb_build_object(''violations'', (select count(*) from bad), ''sample_keys'', '
    'coalesce((select jsonb_agg(s.k) from (select k from bad t0 order by %8$s limit $7) s), ''[]''::jsonb))',
    v_extra, v_catalog->>'schema', v_table->>'name', v_table->>'scope', v_key->>'key', v_key->>'carry',
    public.tenant_backup_validation_predicate(v_table, v_rule), v_key->>'sort')
  into v_result
  using p_tenant,
        case when v_kind = 'format' then public.tenant_backup_validation_pattern(v_params) end,
        (v_params->>'min')::numeric, (v_params->>'max')::numeric,
        case when v_kind = 'one_of' then array(select jsonb_array_elements_text(v_params->'values')) end,
        p_now, p_sample, coalesce((v_params->>'positive')::boolean, false);
  return v_result;
end;
$$;

-- Every rule of p_rules (as tenant_backup_validation_check takes them, each with its "id") checked for
-- tenant p_tenant: [{rule_id, violations, sample_keys}] or, for a rule that could not run (its table or
-- column is gone), [{rule_id, error}]. One query per rule.
create or replace function public.tenant_backup_validation_run(
  p_plan_id text, p_tenant text, p_rules jsonb, p_now timestamptz, p_sample integer default 10
) returns jsonb
language plpgsql
stable
set search_path = pg_catalog
set statement_timeout = '55s'
as $$
declare
  v_rule jsonb;
  v_results jsonb := '[]'::jsonb;
begin
  for v_rule in select r from jsonb_array_elements(coalesce(p_rules, '[]'::jsonb)) r loop
    begin
      v_results := v_results || jsonb_build_array(jsonb_build_object('rule_id', v_rule->>'id')
        || public.tenant_backup_validation_check(p_plan_id, p_tenant, v_rule, p_now, p_sample));
    exception when no_data_found or undefined_column or undefined_table then
      v_results := v_results || jsonb_build_array(jsonb_build_object('rule_id', v_rule->>'id', 'error', sqlerrm));
    end;
  end loop;
  return v_results;
end;
$$;

-- A dry-run restore's apply that also says what the backup's rows would break: the very statements of
-- tenant_backup_apply_live's dry run, run for real inside a block that is then rolled back, with the rules
-- p_rules checked (tenant_backup_validation_run) against the tenant's rows as the restore leaves them.
-- Nothing it does outlives the block. Then, as tenant_backup_apply_live does for a dry run: the restore's
-- backup_logs row is closed, the lease freed and the staged rows cleared. Answers tenant_backup_apply's
-- answer (dry_run true) with "validation": the results, or null when the apply itself failed.
-- allow_dropped_columns is set as a dry run has it: dropped columns are a warning, never a refusal.
create or replace function public.tenant_backup_apply_checked(
  p_restore_id text, p_plan_id text, p_tenant text, p_spec jsonb, p_log_id bigint, p_holder text,
  p_rules jsonb, p_now timestamptz, p_sample integer default 10
) returns jsonb
language plpgsql
volatile
security definer
set search_path = pg_catalog
set statement_timeout = '55s'
as $$
declare
  v_report jsonb;
  v_validation jsonb;
begin
  begin
    v_report := public.tenant_backup_apply(p_restore_id, p_plan_id, p_tenant,
                                           p_spec || '{"allow_dropped_columns": true}'::jsonb, false);
    if (v_report->>'success')::boolean then
      v_validation := public.tenant_backup_validation_run(p_plan_id, p_tenant, p_rules, p_now, p_sample);
    end if;
    raise exception using errcode = 'TB003', message = 'dry run: rolled back';
  exception when sqlstate 'TB003' then
    null;
  end;
  v_report := v_report || jsonb_build_object('dry_run', true, 'validation', v_validation);
  perform public.tenant_backup_log_finish(p_log_id,
    case when (v_report->>'success')::boolean then 'completed' else 'failed' end, 0,
    v_report->'error'->>'message',
    jsonb_build_object('undo_backup_id', null, 'mode', v_report->'mode', 'warnings', v_report->'warnings',
                       'tables', v_report->'tables', 'error', v_report->'error'));
  perform public.tenant_backup_lock_release(p_tenant, p_holder);
  perform public.tenant_backup_stage_clear(p_restore_id);
  return v_report;
end;
$$;

select public.tenant_backup_restrict_functions(array[
  'tenant_backup_validation_rule_list', 'tenant_backup_validation_rule_add',
  'tenant_backup_validation_rule_delete', 'tenant_backup_validation_predicate',
  'tenant_backup_validation_pattern', 'tenant_backup_validation_key', 'tenant_backup_validation_ref',
  'tenant_backup_validation_check', 'tenant_backup_validation_run',
  'tenant_backup_apply_checked']);
