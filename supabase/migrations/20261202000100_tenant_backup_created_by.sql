-- Tenant backup: who started each backup and restore, and why.
--
-- created_by is jsonb: the string "cron" for the cron secret, or {"user_id", "email"} from the user's token
-- (the same value the manifest keeps). note is the caller's optional text. Rows written before this file
-- have neither (null: not recorded).
alter table public.backup_logs add column if not exists created_by jsonb;
alter table public.backup_logs add column if not exists note text;

-- Adds a backup_logs row from a jsonb object whose keys are column names; answers its id. As before, now
-- with created_by and note.
create or replace function public.tenant_backup_log(p_entry jsonb) returns jsonb
language plpgsql
volatile
set search_path = pg_catalog
as $$
declare
  v_id bigint;
begin
  insert into public.backup_logs (organization_id, backup_type, status, backup_date, backup_id, dry_run,
    records_count, file_size, tables_count, duration_ms, error_message, details, started_at, completed_at,
    created_by, note)
  select r.organization_id, r.backup_type, r.status, r.backup_date, r.backup_id, coalesce(r.dry_run, false),
    r.records_count, r.file_size, r.tables_count, r.duration_ms, r.error_message, coalesce(r.details, '{}'::jsonb),
    coalesce(r.started_at, now()), r.completed_at, r.created_by, r.note
  from jsonb_populate_record(null::public.backup_logs, p_entry) as r
  returning id into v_id;
  return to_jsonb(v_id);
end;
$$;

-- Starts a backup run (or finds the one with that id, to resume it) and its backup_logs row, which records
-- who started it (p_created_by: its JSON text, the same on both database paths) and their note. A resumed
-- run keeps what its first call recorded.
drop function if exists public.tenant_backup_run_start(text, text, date, text, text);
create or replace function public.tenant_backup_run_start(
  p_backup_id text, p_org text, p_date date, p_type text, p_log_type text,
  p_created_by text default null, p_note text default null
) returns jsonb
language plpgsql
volatile
set search_path = pg_catalog
as $$
declare
  v_run public.tenant_backup_runs;
  v_log_id bigint;
begin
  select * into v_run from public.tenant_backup_runs where backup_id = p_backup_id;
  if v_run.backup_id is null then
    insert into public.backup_logs (organization_id, backup_type, status, backup_date, backup_id, created_by, note)
    values (p_org, p_log_type, 'running', p_date, p_backup_id, p_created_by::jsonb, p_note)
    returning id into v_log_id;
    insert into public.tenant_backup_runs (backup_id, organization_id, backup_date, backup_type, status, log_id)
    values (p_backup_id, p_org, p_date, p_type, 'running', v_log_id)
    returning * into v_run;
  end if;
  return to_jsonb(v_run);
end;
$$;

select public.tenant_backup_restrict_functions(array['tenant_backup_log', 'tenant_backup_run_start']);
