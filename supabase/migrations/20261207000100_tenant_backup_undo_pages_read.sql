-- Tenant backup: an undo point read back as its stored pages.
--
-- On a direct connection the engine read a captured undo point's table back through COPY line by line:
-- tenant_backup_undo_query split every stored page into its lines and sorted them all (by page, then
-- line) so that COPY could write each line on its own. For the 345,000 rows of the benchmark's largest
-- table that cost PostgreSQL 0.9 s, against 0.07 s to send the same pages as they are stored. The engine
-- now reads the pages themselves, in order, through COPY's binary format (which writes a value's bytes as
-- they are, nothing escaped), and splits them into lines as it splits any COPY stream. A resumed run
-- starts from the page holding its next row and drops that page's rows it has stored already.

-- The select of the stored pages of table p_table of undo point p_capture_id from the one that holds its
-- row p_after + 1 (rows counted from 1 in the export's order), in order: {query (one text column, the
-- page's lines joined by "\n"), first (the rows before the first page it reads)}. Past the last row, a
-- query of no rows.
create or replace function public.tenant_backup_undo_pages_query(p_capture_id text, p_table text, p_after bigint)
returns jsonb
language sql
stable
set search_path = pg_catalog
as $$
  with pages as (
    select page, row_count, sum(row_count) over (order by page) - row_count as before
    from public.tenant_backup_undo
    where capture_id = p_capture_id and table_name = p_table and page >= 0
  ), hit as (
    select page, before from pages
    where before + row_count > greatest(coalesce(p_after, 0), 0)
    order by page
    limit 1
  )
  select coalesce(
    (select jsonb_build_object(
       'query', format(
         'select u.lines from public.tenant_backup_undo u
          where u.capture_id = %L and u.table_name = %L and u.page >= %s
          order by u.page',
         p_capture_id, p_table, h.page),
       'first', h.before)
     from hit h),
    jsonb_build_object('query', 'select null::text as lines where false',
                       'first', greatest(coalesce(p_after, 0), 0)));
$$;

select public.tenant_backup_restrict_functions(array['tenant_backup_undo_pages_query']);

drop function if exists public.tenant_backup_undo_query(text, text, bigint);
