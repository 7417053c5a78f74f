-- Tenant backup: an undo point's pages bounded by bytes as well as rows.
--
-- tenant_backup_apply_capture stored 5,000 rows per page whatever their size: with rows holding 5 MB
-- values a page was hundreds of MB (more than 1 GB past about 200 such rows, which a text value cannot
-- hold), and the engine read it back as one answer. A page now also holds only rows whose text starts
-- in the same 4 MB of the table's export, so that one page is at most 4 MB plus one row. Pages of different sizes are found by the rows before them: tenant_backup_undo_read answers the
-- page that holds a given row, which works for the full 5,000-row pages captured before too.

-- Captures tenant p_tenant's rows of every table of plan p_plan_id as undo point p_capture_id: the very
-- lines a backup of them stores, in the backup's order, in pages of at most tenant_backup_undo_page_rows()
-- rows whose text starts in the same 4 MB of the table's export. Answers the rows captured.
create or replace function public.tenant_backup_apply_capture(p_plan_id text, p_tenant text, p_capture_id text)
returns bigint
language plpgsql
volatile
set search_path = pg_catalog
set datestyle = 'ISO, YMD'
set intervalstyle = 'postgres'
set timezone = 'UTC'
set extra_float_digits = 1
set bytea_output = 'hex'
as $$
declare
  v_table jsonb;
  v_rows integer := public.tenant_backup_undo_page_rows();
  v_n bigint;
  v_total bigint := 0;
begin
  for v_table in select t from jsonb_array_elements(public.tenant_backup_plan_catalog(p_plan_id)->'tables') t loop
    -- Both buckets (by row number, by the bytes before the row) only grow along the export order, so
    -- their pairs, ranked, number the pages 0, 1, … in that order.
    execute format(
      'insert into public.tenant_backup_undo (capture_id, organization_id, table_name, page, row_count, lines)
       select $1, $2, $3, page - 1, count(*), string_agg(line, E''\n'' order by n)
       from (select line, n, dense_rank() over (order by (n - 1) / %1$s, (upto - octet_length(line) - 1) / 4194304) as page
             from (select line, n, sum(octet_length(line) + 1) over (order by n) as upto
                   from (select q.line, row_number() over () as n from (%2$s) q(line)) x) y) z
       group by page',
      v_rows, public.tenant_backup_export_query(p_plan_id, v_table->>'name', p_tenant, null)->>'query')
      using p_capture_id, p_tenant, v_table->>'name';
    select coalesce(sum(row_count), 0) into v_n from public.tenant_backup_undo
    where capture_id = p_capture_id and table_name = v_table->>'name';
    v_total := v_total + v_n;
  end loop;
  return v_total;
end;
$$;

-- The page of table p_table of undo point p_capture_id that holds its row p_after + 1 (rows counted from
-- 1 in the export's order): {first (the rows before the page), rows, lines, done (no page follows)};
-- rows 0 and done past the end.
create or replace function public.tenant_backup_undo_read(p_capture_id text, p_table text, p_after bigint)
returns jsonb
language sql
stable
set search_path = pg_catalog
as $$
  with pages as (
    select page, row_count, sum(row_count) over (order by page) - row_count as before,
           max(page) over () as last
    from public.tenant_backup_undo where capture_id = p_capture_id and table_name = p_table
  ), hit as (
    select page, before, last from pages
    where before <= coalesce(p_after, 0) and coalesce(p_after, 0) < before + row_count
  )
  select coalesce(
    (select jsonb_build_object('first', h.before, 'rows', u.row_count, 'lines', u.lines, 'done', h.page = h.last)
     from hit h join public.tenant_backup_undo u
       on u.capture_id = p_capture_id and u.table_name = p_table and u.page = h.page),
    jsonb_build_object('first', coalesce(p_after, 0), 'rows', 0, 'lines', '', 'done', true));
$$;

select public.tenant_backup_restrict_functions(array['tenant_backup_apply_capture', 'tenant_backup_undo_read']);
