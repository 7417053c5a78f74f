/** History: the organization's backup_logs rows, newest first — type, status, records, duration, who, error. */
import { useEffect, useState } from "react";
import type { LogRow } from "../../client/types.ts";
import { ErrorNotice } from "../ErrorNotice.tsx";
import { formatCount, formatDateTime, formatDuration, typeLabel } from "../format.ts";
import type { Section, SectionProps } from "../section.ts";

export const HISTORY_PAGE = 20;

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
      <div className="table-wrap" aria-busy={view.loading}>
        <table className="table history">
          <caption className="visually-hidden">History of {organizationLabel}, newest first</caption>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">What</th>
              <th scope="col">Status</th>
              <th scope="col" className="num">
                Records
              </th>
              <th scope="col" className="num">
                Duration
              </th>
              <th scope="col">Who</th>
              <th scope="col">Error</th>
            </tr>
          </thead>
          <tbody>
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
                <td data-label="Error" className="error-cell">
                  {row.error_message ?? ""}
                </td>
              </tr>
            ))}
            {page && page.rows.length === 0 && (
              <tr>
                <td colSpan={7} className="empty">
                  Nothing has happened yet.
                </td>
              </tr>
            )}
            {!page &&
              [0, 1, 2].map((i) => (
                <tr key={i} className="placeholder">
                  <td colSpan={7}>&nbsp;</td>
                </tr>
              ))}
          </tbody>
        </table>
      </div>
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
  const actor = row.details?.actor;
  if (typeof actor !== "string") return row.backup_type === "daily_tenant" ? "daily run" : "";
  if (actor === "cron") return "cron";
  return actor.replace(/^user:/, "user ");
}

export const history: Section = { id: "history", title: "History", Component: History };
