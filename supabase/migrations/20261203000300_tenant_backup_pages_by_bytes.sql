-- Tenant backup: pages through the Supabase API end by bytes, not by a row count.
--
-- A backup read through PostgREST took pages of 1,000 rows (about 260 KB of demo rows): 100 requests per
-- 100,000 rows. Pages now end by bytes (BACKUP_PAGE_BYTES, a few MB) under a row cap that normal rows do
-- not reach (BACKUP_PAGE_ROWS, up to 100,000).
--
-- tenant_backup_snapshot_page read p_limit rows of the run's copy before cutting them by bytes, so a cap
-- of 100,000 rows would have read up to 100,000 rows for a page of a few large ones. It now reads the copy
-- in order and stops at the row after the page's last: a page costs its own rows only.
--
-- Undo points are captured in pages of at most 4 MB of lines; their row cap goes from 5,000 to 100,000, so
-- that those pages, read back one per request, end by their bytes as well.

-- A page of the run's copy of table p_table after row p_after: at most p_limit rows, ending with the first
-- row whose text starts at or after p_max_bytes (at least one row). {rows, bytes, data (the lines joined by
-- "\n"), last_key ([the last row's number] or null), done (no row follows)}.
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
  v_lines text[] := '{}';
  v_bytes bigint := 0;
  v_last bigint;
  v_more boolean := false;
  r record;
begin
  if p_limit is null or p_limit < 1 or p_limit > 100000 then
    raise exception using errcode = '22023', message = 'p_limit must be between 1 and 100000';
  end if;
  -- A FOR loop reads its query through a cursor: leaving it leaves the rest of the copy unread.
  for r in
    select s.seq, s.line from public.tenant_backup_snapshot s
    where s.backup_id = p_backup_id and s.table_name = p_table and s.seq > coalesce(p_after, 0)
    order by s.seq
  loop
    if cardinality(v_lines) >= p_limit or (cardinality(v_lines) > 0 and v_bytes >= coalesce(p_max_bytes, 8388608)) then
      v_more := true;
      exit;
    end if;
    v_lines := array_append(v_lines, r.line);
    v_bytes := v_bytes + octet_length(r.line) + 1;
    v_last := r.seq;
  end loop;
  return jsonb_build_object(
    'rows', cardinality(v_lines),
    'bytes', v_bytes,
    'data', array_to_string(v_lines, E'\n'),
    'last_key', case when v_last is null then null else jsonb_build_array(v_last::text) end,
    'done', not v_more);
end;
$$;

-- Rows per captured undo page: a cap above what 4 MB of normal rows hold, so pages end by their bytes.
create or replace function public.tenant_backup_undo_page_rows() returns integer
language sql
immutable
set search_path = pg_catalog
as $$ select 100000 $$;

select public.tenant_backup_restrict_functions(array['tenant_backup_snapshot_page', 'tenant_backup_undo_page_rows']);
