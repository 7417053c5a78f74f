-- Tenant backup: the tables the project keeps in the app's database.
-- Idempotent: safe to apply again; runs on Supabase and on plain PostgreSQL alike.

-- What happened: one row per backup, restore, dry run, retention pass or deletion. The setup guide's
-- queries rely on backup_type ('daily_tenant', 'manual_tenant', 'pre_restore', 'restore', ...) and status
-- ('running', 'completed', 'failed').
create table if not exists public.backup_logs (
  id bigint generated always as identity primary key,
  organization_id text,
  backup_type text not null,
  status text not null,
  backup_date date,
  backup_id text,
  dry_run boolean not null default false,
  records_count bigint,
  file_size bigint,
  tables_count integer,
  duration_ms bigint,
  error_message text,
  details jsonb not null default '{}'::jsonb,
  started_at timestamptz not null default now(),
  completed_at timestamptz,
  created_at timestamptz not null default now()
);
create index if not exists backup_logs_org_created_idx on public.backup_logs (organization_id, created_at desc);
create index if not exists backup_logs_type_status_idx on public.backup_logs (backup_type, status, created_at desc);

-- Run state of backups, so that a run cut short by a time budget or a kill continues where it stopped.
-- `progress` holds the files already written, table by table, and the key the next file starts after.
create table if not exists public.tenant_backup_runs (
  backup_id text primary key,
  organization_id text not null,
  backup_date date not null,
  backup_type text not null,
  status text not null check (status in ('running', 'completed', 'failed')),
  progress jsonb not null default '{}'::jsonb,
  log_id bigint,
  summary_path text,
  records_count bigint,
  file_size bigint,
  error_message text,
  started_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  completed_at timestamptz
);
create index if not exists tenant_backup_runs_org_date_idx
  on public.tenant_backup_runs (organization_id, backup_date, status);

-- One operation per tenant at a time, across function instances: a lease that expires, so that a killed
-- function cannot keep a tenant busy for ever. Session advisory locks would not survive PostgREST's
-- connection pooling, and the supabase-js path has no session.
create table if not exists public.tenant_backup_locks (
  organization_id text primary key,
  operation text not null,
  holder text not null,
  acquired_at timestamptz not null default now(),
  expires_at timestamptz not null
);

-- Tenant catalogs computed by tenant_backup_prepare, kept so that each page read looks its plan up by id
-- instead of walking the schema again. The id is a hash of the catalog: the same schema, the same row.
create table if not exists public.tenant_backup_plans (
  plan_id text primary key,
  catalog jsonb not null,
  created_at timestamptz not null default now(),
  used_at timestamptz not null default now()
);
