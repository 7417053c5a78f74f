/** The tables of the page: column heads written once, and the lists' empty and loading rows. */
import type { ReactNode } from "react";

export interface Column {
  label: string;
  /** Right-aligned figures. */
  numeric?: boolean;
  /** A head for screen readers only (the actions column). */
  hidden?: boolean;
}

export function TableHead({ columns }: { columns: Column[] }) {
  return (
    <thead>
      <tr>
        {columns.map((c) => (
          <th key={c.label} scope="col" className={c.numeric ? "num" : undefined}>
            {c.hidden ? <span className="visually-hidden">{c.label}</span> : c.label}
          </th>
        ))}
      </tr>
    </thead>
  );
}

/**
 * A section's list: its rows, then one line saying there are none, or (rowCount null: not read yet)
 * placeholder rows that keep the page from jumping when the rows arrive.
 */
export function ListTable(props: {
  className: string;
  caption: string;
  busy: boolean;
  columns: Column[];
  rowCount: number | null;
  emptyText: string;
  children: ReactNode;
}) {
  const span = props.columns.length;
  return (
    <div className="table-wrap" aria-busy={props.busy}>
      <table className={`table ${props.className}`}>
        <caption className="visually-hidden">{props.caption}</caption>
        <TableHead columns={props.columns} />
        <tbody>
          {props.children}
          {props.rowCount === 0 && (
            <tr>
              <td colSpan={span} className="empty">
                {props.emptyText}
              </td>
            </tr>
          )}
          {props.rowCount === null &&
            [0, 1, 2].map((i) => (
              <tr key={i} className="placeholder">
                <td colSpan={span}>&nbsp;</td>
              </tr>
            ))}
        </tbody>
      </table>
    </div>
  );
}
