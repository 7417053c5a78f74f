/**
 * Available backups, newest first: date, time, type, records, size, files present, who started it (and
 * the note), when a verification drill last passed; and per backup Details
 * (tables, rows, files), Download (summary or a file), Restore (opens the restore steps) and Delete
 * (typed confirmation; the only backup needs the explicit force the API asks for).
 */
import { useEffect, useState } from "react";
import { ApiError } from "../../client/errors.ts";
import type { BackupDetails, BackupEntry, BackupList, BackupListing, Download } from "../../client/types.ts";
import { Dialog } from "../Dialog.tsx";
import { ErrorNotice } from "../ErrorNotice.tsx";
import {
  createdByLabel,
  formatAge,
  formatBytes,
  formatCount,
  formatDate,
  formatTime,
  typeLabel,
} from "../format.ts";
import type { Section, SectionProps } from "../section.ts";
import { type Column, ListTable, TableHead } from "../Table.tsx";
import { TypedConfirmation } from "../TypedConfirmation.tsx";

const BACKUP_COLUMNS: Column[] = [
  { label: "Date" },
  { label: "Time" },
  { label: "Type" },
  { label: "Records", numeric: true },
  { label: "Size", numeric: true },
  { label: "Files" },
  { label: "By" },
  { label: "Verified" },
  { label: "Data checks" },
  { label: "Actions", hidden: true },
];

const DETAIL_COLUMNS: Column[] = [
  { label: "Table" },
  { label: "Rows", numeric: true },
  { label: "Size", numeric: true },
  { label: "Files" },
];

function AvailableBackups(props: SectionProps) {
  const { client, organization, view, chooseForRestore } = props;
  // Older pages belong to the first page they were read after: a reload starts from the newest again.
  const [olderPages, setOlder] = useState<{
    after: BackupList | null;
    backups: BackupEntry[];
    next: string | null;
  } | null>(null);
  const older = olderPages && olderPages.after === view.list ? olderPages : null;
  const [details, setDetails] = useState<BackupListing | null>(null);
  const [deleting, setDeleting] = useState<BackupEntry | null>(null);
  const [error, setError] = useState<unknown>(null);

  const backups = [...(view.list?.backups ?? []), ...(older?.backups ?? [])];
  const next = older ? older.next : (view.list?.backups_next_before ?? null);

  async function showOlder() {
    if (!next) return;
    try {
      const page = await client.listBackups({
        organization_id: organization.id,
        before: next,
        history_limit: 1,
      });
      setOlder({
        after: view.list,
        backups: [...(older?.backups ?? []), ...page.backups],
        next: page.backups_next_before,
      });
    } catch (err) {
      setError(err);
    }
  }

  async function download(backup: BackupEntry) {
    setError(null);
    try {
      save(await client.download(organization.id, backup.backup_id));
    } catch (err) {
      setError(err);
    }
  }

  return (
    <div>
      <ListTable
        className="backups"
        caption={`Backups of ${props.organizationLabel}, newest first`}
        busy={view.loading}
        columns={BACKUP_COLUMNS}
        rowCount={view.list ? backups.length : null}
        emptyText="No backups yet. Create one above; the daily run adds one every day."
      >
        {backups.map((b) =>
          b.status === "completed" ? (
            <tr key={b.backup_id} data-backup-id={b.backup_id}>
              <td data-label="Date">{formatDate(b.completed_at)}</td>
              <td data-label="Time">{formatTime(b.completed_at)}</td>
              <td data-label="Type">
                <span className={`tag tag-${b.backup_type}`}>{typeLabel(b.backup_type)}</span>
              </td>
              <td data-label="Records" className="num">
                {formatCount(b.total_records)}
              </td>
              <td data-label="Size" className="num">
                {formatBytes(b.total_size)}
              </td>
              <td data-label="Files">
                {b.files_present ? (
                  <span className="ok">✓ all files present</span>
                ) : (
                  <span className="bad">✗ files missing</span>
                )}
              </td>
              <td data-label="By" className="started-by">
                {createdByLabel(b.created_by)}
                {b.note && <span className="fact-sub">{b.note}</span>}
              </td>
              <td data-label="Verified">{verifiedText(b)}</td>
              <td data-label="Data checks">
                {!b.validation ? (
                  <span className="muted">—</span>
                ) : b.validation.failed === 0 && b.validation.errors === 0 ? (
                  <span className="ok">✓ {b.validation.rules} rules passed</span>
                ) : (
                  <span className="bad">
                    ✗ {b.validation.failed} of {b.validation.rules} rules broken (
                    {formatCount(b.validation.violations)} rows)
                  </span>
                )}
              </td>
              <td className="actions">
                <button type="button" className="button button-small" onClick={() => setDetails(b)}>
                  Details
                  <span className="visually-hidden">
                    {" "}
                    of the backup of {formatDate(b.completed_at)} {formatTime(b.completed_at)}
                  </span>
                </button>
                <button type="button" className="button button-small" onClick={() => download(b)}>
                  Download
                  <span className="visually-hidden">
                    {" "}
                    summary of {formatDate(b.completed_at)} {formatTime(b.completed_at)}
                  </span>
                </button>
                <button
                  type="button"
                  className="button button-small"
                  onClick={() => {
                    chooseForRestore(b);
                    document.getElementById("section-restore")?.scrollIntoView({ behavior: "smooth" });
                  }}
                >
                  Restore
                  <span className="visually-hidden">
                    {" "}
                    from {formatDate(b.completed_at)} {formatTime(b.completed_at)}
                  </span>
                </button>
                <button
                  type="button"
                  className="button button-small button-danger"
                  onClick={() => setDeleting(b)}
                >
                  Delete
                  <span className="visually-hidden">
                    {" "}
                    the backup of {formatDate(b.completed_at)} {formatTime(b.completed_at)}
                  </span>
                </button>
              </td>
            </tr>
          ) : (
            <tr key={b.backup_id} className="damaged">
              <td data-label="Date">{b.backup_date}</td>
              <td colSpan={7} data-label="Problem">
                <span className="bad">Damaged: {b.error}</span>
              </td>
              <td className="actions">
                <button
                  type="button"
                  className="button button-small button-danger"
                  onClick={() => setDeleting(b)}
                >
                  Delete<span className="visually-hidden"> the damaged backup {b.backup_id}</span>
                </button>
              </td>
            </tr>
          ),
        )}
      </ListTable>
      {next && (
        <button type="button" className="button" onClick={showOlder}>
          Show older backups
        </button>
      )}
      <ErrorNotice error={error} organization={props.organizationLabel} onSignInAgain={props.onSignInAgain} />
      {details && <DetailsDialog {...props} backup={details} onClose={() => setDetails(null)} />}
      {deleting && <DeleteDialog {...props} backup={deleting} onClose={() => setDeleting(null)} />}
    </div>
  );
}

/** Hands a download to the browser: a signed link is followed, a file is saved under its name. */
function save(download: Download) {
  const a = document.createElement("a");
  if (download.kind === "link") {
    a.href = download.url;
    a.rel = "noopener";
  } else {
    a.href = URL.createObjectURL(download.blob);
    a.download = download.filename;
    setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
  }
  document.body.append(a);
  a.click();
  a.remove();
}

function DetailsDialog(props: SectionProps & { backup: BackupListing; onClose: () => void }) {
  const { client, organization, backup, onClose } = props;
  const [details, setDetails] = useState<BackupDetails | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    client.backupDetails(organization.id, backup.backup_id).then(setDetails, setError);
  }, [client, organization.id, backup.backup_id]);

  async function downloadFile(path: string) {
    try {
      save(await client.download(organization.id, backup.backup_id, path));
    } catch (err) {
      setError(err);
    }
  }

  return (
    <Dialog
      title={`Backup of ${formatDate(backup.completed_at)}, ${formatTime(backup.completed_at)}`}
      onClose={onClose}
    >
      <p className="muted mono">{backup.backup_id}</p>
      <ErrorNotice error={error} organization={props.organizationLabel} />
      {details && details.file_problems.length > 0 && (
        <div className="notice notice-error" role="alert">
          <p className="notice-title">Files with problems</p>
          <ul>
            {details.file_problems.map((p) => (
              <li key={p.path}>
                <span className="mono">{p.path}</span>: {p.problem}
              </li>
            ))}
          </ul>
        </div>
      )}
      {details ? (
        <div className="table-wrap">
          <table className="table compact">
            <TableHead columns={DETAIL_COLUMNS} />
            <tbody>
              {details.manifest.tables.map((t) => (
                <tr key={t.name}>
                  <td className="mono">{t.name}</td>
                  <td className="num">{formatCount(t.row_count)}</td>
                  <td className="num">{formatBytes(t.bytes)}</td>
                  <td>
                    {t.files.map((f) => (
                      <button
                        key={f.path}
                        type="button"
                        className="link"
                        // A chunk small tables share holds other tables' rows too: this table's are asked for.
                        onClick={() => downloadFile(f.slice ? t.name : f.path)}
                        aria-label={`Download ${f.path.slice(f.path.lastIndexOf("/") + 1)}`}
                      >
                        {f.path.slice(f.path.lastIndexOf("/") + 1)}
                      </button>
                    ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : (
        !error && <p className="status">Loading…</p>
      )}
      {details && details.manifest.warnings.length > 0 && (
        <ul className="warnings">
          {details.manifest.warnings.map((w) => (
            <li key={w}>{w}</li>
          ))}
        </ul>
      )}
    </Dialog>
  );
}

function DeleteDialog(props: SectionProps & { backup: BackupEntry; onClose: () => void }) {
  const { client, organization, backup, onClose, reload } = props;
  const [typed, setTyped] = useState("");
  const [onlyBackup, setOnlyBackup] = useState(false);
  const [force, setForce] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const word = "DELETE";

  async function submit(event: React.FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await client.deleteBackup(organization.id, backup.backup_id, force);
      await reload();
      onClose();
    } catch (err) {
      // The API refuses to delete the only backup without force: say why and let the admin insist.
      if (err instanceof ApiError && err.status === 409 && err.details.field === "force") setOnlyBackup(true);
      else setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <Dialog title="Delete this backup?" onClose={onClose}>
      <form onSubmit={submit} className="stack">
        <p>
          The backup <span className="mono">{backup.backup_id}</span> of {props.organizationLabel} will be
          deleted for good. It cannot be restored afterwards.
        </p>
        {onlyBackup && (
          <div className="notice notice-warn" role="alert">
            <p className="notice-title">This is the only backup of {props.organizationLabel}.</p>
            <p>Deleting it leaves nothing to restore until the next backup.</p>
            <label className="check">
              <input type="checkbox" checked={force} onChange={(e) => setForce(e.target.checked)} />
              Delete the only backup anyway
            </label>
          </div>
        )}
        <TypedConfirmation word={word} purpose="to confirm" value={typed} onChange={setTyped} />
        <ErrorNotice error={error} organization={props.organizationLabel} />
        <div className="row">
          <button
            type="submit"
            className="button button-danger"
            disabled={typed !== word || busy || (onlyBackup && !force)}
          >
            {busy ? "Deleting…" : "Delete backup"}
          </button>
          <button type="button" className="button" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}

export const availableBackups: Section = {
  id: "backups",
  title: "Available backups",
  Component: AvailableBackups,
};

/** When a verification drill (verify-backups) last passed, or that the newest one failed. */
function verifiedText(b: BackupListing) {
  if (b.verification?.status === "failed") {
    return <span className="bad">✗ drill failed {formatAge(b.verification.at)}</span>;
  }
  if (b.verified_at) return <span className="ok">✓ {formatAge(b.verified_at)}</span>;
  return <span className="muted">not yet</span>;
}
