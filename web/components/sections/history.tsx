/**
 * History: the organization's backup_logs rows, newest first — type, status, records, duration, who, the
 * note given, error.
 */
import { useEffect, useState } from "react";
import type { LogRow } from "../../client/types.ts";
import { ErrorNotice } from "../ErrorNotice.tsx";
import { createdByLabel, formatCount, formatDateTime, formatDuration, typeLabel } from "../format.ts";
import type { Section, SectionProps } from "../section.ts";
import { type Column, ListTable } from "../Table.tsx";

export const HISTORY_PAGE = 20;

const HISTORY_COLUMNS: Column[] = [
  { label: "When" },
  { label: "What" },
  { label: "Status" },
  { label: "Records", numeric: true },
  { label: "Duration", numeric: true },
  { label: "Who" },
  { label: "Note" },
  { label: "Error" },
];

function History({ client, organization, view, organizationLabel }: SectionProps) {
  const [pages, setPages] = useState<{ rows: LogRow[]; next: number | null }[]>([]);
  const [index, setIndex] = useState(0);
  const [error, setError] = useState<unknown>(null);

  // The first page comes with the list; later pages are read when asked for.
  useEffect(() => {
    if (!view.list) return;
    setPages([{ rows: view.list.history, next: view.list.history_next_before }]);
    setIndex(0);
  }, [view.list]);

  const page = pages[index];

  async function older() {
    if (!page?.next) return;
    if (pages[index + 1]) {
      setIndex(index + 1);
      return;
    }
    try {
      const list = await client.listBackups({
        organization_id: organization.id,
        limit: 1,
        history_limit: HISTORY_PAGE,
        history_before: page.next,
      });
      setPages([...pages, { rows: list.history, next: list.history_next_before }]);
      setIndex(index + 1);
    } catch (err) {
      setError(err);
    }
  }

  return (
    <div>
      <ListTable
        className="history"
        caption={`History of ${organizationLabel}, newest first`}
        busy={view.loading}
        columns={HISTORY_COLUMNS}
        rowCount={page ? page.rows.length : null}
        emptyText="Nothing has happened yet."
      >
        {(page?.rows ?? []).map((row) => (
          <tr key={row.id}>
            <td data-label="When">{formatDateTime(row.started_at ?? row.created_at)}</td>
            <td data-label="What">
              {typeLabel(row.backup_type)}
              {row.dry_run ? " (dry run)" : ""}
            </td>
            <td data-label="Status">
              <span className={`badge badge-${row.status}`}>{row.status}</span>
            </td>
            <td data-label="Records" className="num">
              {row.records_count == null ? "—" : formatCount(row.records_count)}
            </td>
            <td data-label="Duration" className="num">
              {row.duration_ms == null ? "—" : formatDuration(row.duration_ms)}
            </td>
            <td data-label="Who">{who(row)}</td>
            <td data-label="Note">{row.note ?? ""}</td>
            <td data-label="Error" className="error-cell">
              {row.error_message ?? ""}
            </td>
          </tr>
        ))}
      </ListTable>
      <nav className="row pager" aria-label="History pages">
        <button
          type="button"
          className="button button-small"
          disabled={index === 0}
          onClick={() => setIndex(index - 1)}
        >
          Newer
        </button>
        <span className="muted">Page {index + 1}</span>
        <button type="button" className="button button-small" disabled={!page?.next} onClick={older}>
          Older
        </button>
      </nav>
      <ErrorNotice error={error} organization={organizationLabel} />
    </div>
  );
}

function who(row: LogRow): string {
  if (row.created_by) return createdByLabel(row.created_by);
  const actor = row.details?.actor;
  if (typeof actor !== "string") return row.backup_type === "daily_tenant" ? "daily run" : "";
  if (actor === "cron") return "cron";
  return actor.replace(/^user:/, "user ");
}

export const history: Section = { id: "history", title: "History", Component: History };
