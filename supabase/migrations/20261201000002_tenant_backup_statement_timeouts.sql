-- Tenant backup: a statement_timeout of their own for the functions that may run long.
--
-- Over PostgREST (supabase-js rpc), a call runs under its role's statement_timeout, which on Supabase is the
-- authenticator's 8 s (the service role has none of its own), unless the function declares one: PostgREST
-- applies a function's statement_timeout setting to the request's transaction. The API gateway ends a
-- request after about 60 s, so these take 55 s. Over a direct connection the setting does not shorten the
-- call (a timeout is armed when a statement starts, and the function's SET comes after that).
--   tenant_backup_apply        was given its own in 20261201000001 (one transaction for the whole restore)
--   tenant_backup_export_page  a page is up to 100,000 rows, sorted by key, scoped through parent tables
--   tenant_backup_stage_page   writes a page of up to several MB of backup lines
--   tenant_backup_stage_clear  deletes every staged page of a restore, and stale ones of others
--   tenant_backup_prepare      reads the whole schema's catalog to find the tenant tables
--   tenant_backup_list_tenants every row of the root table
--   tenant_backup_runs_expire  scans the runs of every earlier day
-- The others touch one or a few rows by key and keep the default.
-- ALTER FUNCTION keeps each function's privileges: nothing here to revoke.

alter function public.tenant_backup_export_page(text, text, text, jsonb, integer, integer) set statement_timeout = '55s';
alter function public.tenant_backup_stage_page(text, text, integer, integer, text) set statement_timeout = '55s';
alter function public.tenant_backup_stage_clear(text) set statement_timeout = '55s';
alter function public.tenant_backup_prepare(text, text, text) set statement_timeout = '55s';
alter function public.tenant_backup_list_tenants(text, text) set statement_timeout = '55s';
alter function public.tenant_backup_runs_expire(date) set statement_timeout = '55s';
