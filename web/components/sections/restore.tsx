/**
 * Restore, in steps: choose the backup → choose tables (and, when the backup holds the tenant's files,
 * whether to restore them too, alone, or not) → dry run (always first: the real restore is offered only
 * for the exact selection that was rehearsed) → read the preview → type CONFIRM → restore → the result
 * and its undo point, which "Undo this restore" restores the same way, dry run first.
 */
import { useEffect, useId, useState } from "react";
import type { BackupListing, FilesRestoreReport, RestoreReport } from "../../client/types.ts";
import { ErrorNotice } from "../ErrorNotice.tsx";
import { droppedColumnNotes, leftOutTable } from "../error-text.ts";
import { dayOfBackupId, formatCount, formatDate, formatTime, typeLabel } from "../format.ts";
import type { RestoreTarget, Section, SectionProps } from "../section.ts";
import { type Column, TableHead } from "../Table.tsx";
import { TypedConfirmation } from "../TypedConfirmation.tsx";

const CONFIRM_WORD = "CONFIRM";

/** What the restore does with the tenant's files; the request's `files`. */
const FILE_CHOICES = {
  with: { label: "Restore the files too, after the rows", files: true },
  only: { label: "Restore only the files (leave the rows as they are)", files: "only" },
  without: { label: "Leave the files as they are", files: false },
} as const;
type FileChoice = keyof typeof FILE_CHOICES;

function Restore(props: SectionProps) {
  const { client, organization, view, restoreTarget, chooseForRestore, reload } = props;
  const backups = (view.list?.backups ?? []).filter((b): b is BackupListing => b.status === "completed");
  const target = restoreTarget;
  const [tables, setTables] = useState<string[] | null>(null);
  /** How many files the backup holds; null for a backup taken without them. */
  const [fileCount, setFileCount] = useState<number | null>(null);
  const [fileChoice, setFileChoice] = useState<FileChoice>("with");
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [dryRun, setDryRun] = useState<{ report: RestoreReport; selection: string } | null>(null);
  const [confirm, setConfirm] = useState("");
  const [allowDropped, setAllowDropped] = useState(false);
  const [result, setResult] = useState<RestoreReport | null>(null);
  const [working, setWorking] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const selectId = useId();
  const filesId = useId();

  // A new backup starts the steps over: its tables, all selected, and no dry run yet.
  useEffect(() => {
    setTables(null);
    setFileCount(null);
    setFileChoice("with");
    setDryRun(null);
    setConfirm("");
    setAllowDropped(false);
    setError(null);
    if (!target) return;
    setResult(null);
    let cancelled = false;
    client.backupDetails(organization.id, target.backup_id).then(
      (details) => {
        if (cancelled) return;
        const names = details.manifest.tables.map((t) => t.name);
        setTables(names);
        setFileCount(details.manifest.files ? details.manifest.files.objects.length : null);
        setSelected(new Set(names));
      },
      (err) => !cancelled && setError(err),
    );
    return () => {
      cancelled = true;
    };
  }, [client, organization.id, target]);

  const filesOnly = fileCount !== null && fileChoice === "only";
  const selection = tables
    ? `${filesOnly ? "" : tables.filter((t) => selected.has(t)).join(",")}|${fileCount === null ? "" : fileChoice}`
    : "";
  const allSelected = tables !== null && selected.size === tables.length;
  const rehearsed = dryRun !== null && dryRun.selection === selection && dryRun.report.success;

  function request(dry: boolean) {
    if (!target || !tables) throw new Error("no backup chosen");
    return {
      organization_id: organization.id,
      backup_date: target.backup_date,
      backup_id: target.backup_id,
      dry_run: dry,
      tables: allSelected || filesOnly ? undefined : tables.filter((t) => selected.has(t)),
      ...(allowDropped ? { allow_dropped_columns: true } : {}),
      ...(fileCount !== null ? { files: FILE_CHOICES[fileChoice].files } : {}),
    };
  }

  async function runDry() {
    setWorking("Running the dry run: the restore runs inside a transaction that is then rolled back…");
    setError(null);
    setConfirm("");
    try {
      const report = await client.restore(request(true));
      setDryRun({ report, selection });
      await reload();
    } catch (err) {
      setError(err);
    } finally {
      setWorking(null);
    }
  }

  async function runReal() {
    setWorking("Restoring: first an undo point of the current data, then the restore in one transaction…");
    setError(null);
    try {
      const report = await client.restore(request(false), {
        onProgress: (message) => setWorking(`Still working: ${message}`),
      });
      setResult(report);
      setDryRun(null);
      setConfirm("");
      await reload();
    } catch (err) {
      setError(err);
    } finally {
      setWorking(null);
    }
  }

  function undo(report: RestoreReport) {
    const id = report.summary.undo_backup_id;
    if (!id) return;
    const listed = backups.find((b) => b.backup_id === id);
    const day = dayOfBackupId(id) ?? report.summary.backup_date;
    chooseForRestore(
      listed ?? {
        backup_id: id,
        backup_date: day,
        backup_type: "pre_restore",
        completed_at: new Date().toISOString(),
        total_records: 0,
      },
    );
  }

  function toggle(name: string, on: boolean) {
    const next = new Set(selected);
    if (on) next.add(name);
    else next.delete(name);
    setSelected(next);
  }

  const blocked = leftOutTable(error, dryRun?.report);
  const dropped = rehearsed ? droppedColumnNotes(dryRun?.report) : [];
  const canRestore = confirm === CONFIRM_WORD && working === null && (dropped.length === 0 || allowDropped);
  const step = result ? 5 : rehearsed ? 4 : tables ? (dryRun ? 3 : 2) : 1;

  return (
    <div className="restore">
      <ol className="steps" aria-label="Restore steps">
        {["Backup", "Tables", "Dry run", "Confirm", "Result"].map((name, i) => (
          <li
            key={name}
            className={i + 1 === step ? "current" : i + 1 < step ? "done" : ""}
            aria-current={i + 1 === step ? "step" : undefined}
          >
            <span className="step-no">{i + 1}</span> {name}
          </li>
        ))}
      </ol>

      <div className="field">
        <label htmlFor={selectId}>Backup to restore</label>
        <select
          id={selectId}
          value={target?.backup_id ?? ""}
          onChange={(e) => chooseForRestore(backups.find((b) => b.backup_id === e.target.value) ?? null)}
        >
          <option value="">Choose a backup…</option>
          {target && !backups.some((b) => b.backup_id === target.backup_id) && (
            <option value={target.backup_id}>{describeBackup(target)}</option>
          )}
          {backups.map((b) => (
            <option key={b.backup_id} value={b.backup_id}>
              {describeBackup(b)}
            </option>
          ))}
        </select>
      </div>

      {target && tables && !result && fileCount !== null && (
        <div className="field">
          <label htmlFor={filesId}>
            Files <span className="muted">({formatCount(fileCount)} in this backup)</span>
          </label>
          <select
            id={filesId}
            value={fileChoice}
            onChange={(e) => setFileChoice(e.target.value as FileChoice)}
          >
            {Object.entries(FILE_CHOICES).map(([value, { label }]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </div>
      )}

      {target && tables && !result && !filesOnly && (
        <fieldset className="tables">
          <legend>
            Tables to restore{" "}
            <span className="muted">
              ({selected.size} of {tables.length})
            </span>
          </legend>
          <div className="row">
            <button
              type="button"
              className="button button-small"
              onClick={() => setSelected(new Set(tables))}
            >
              Select all
            </button>
            <button type="button" className="button button-small" onClick={() => setSelected(new Set())}>
              Select none
            </button>
          </div>
          <div className="checks">
            {tables.map((name) => (
              <label key={name} className="check">
                <input
                  type="checkbox"
                  checked={selected.has(name)}
                  onChange={(e) => toggle(name, e.target.checked)}
                />
                <span className="mono">{name}</span>
              </label>
            ))}
          </div>
        </fieldset>
      )}

      {target && tables && !result && (
        <div className="row">
          <button
            type="button"
            className="button button-primary"
            onClick={runDry}
            disabled={working !== null || (selected.size === 0 && !filesOnly)}
          >
            {dryRun && dryRun.selection === selection ? "Run the dry run again" : "Dry run"}
          </button>
          <span className="muted">Nothing is changed by a dry run.</span>
        </div>
      )}

      <p className="status" role="status" aria-live="polite">
        {working && <span className="spinner" aria-hidden="true" />}
        {working}
      </p>

      {blocked && (
        <div className="notice notice-warn" role="alert">
          <p className="notice-title">Other rows depend on these tables.</p>
          <p>
            {blocked.detail} Restoring without <span className="mono">{blocked.table}</span> would delete or
            orphan those rows, so the restore refuses. Add it to the tables, or restore every table.
          </p>
          {blocked.table && tables?.includes(blocked.table) && (
            <button type="button" className="button" onClick={() => toggle(blocked.table as string, true)}>
              Add {blocked.table}
            </button>
          )}
        </div>
      )}
      {!blocked && (
        <ErrorNotice
          error={error}
          organization={props.organizationLabel}
          onSignInAgain={props.onSignInAgain}
          onRetry={rehearsed ? runReal : runDry}
        />
      )}

      {dryRun && dryRun.selection === selection && <Preview report={dryRun.report} />}

      {rehearsed && (
        <form
          className="confirm"
          onSubmit={(e) => {
            e.preventDefault();
            if (canRestore) void runReal();
          }}
        >
          {dropped.length > 0 && (
            <label className="check">
              <input
                type="checkbox"
                checked={allowDropped}
                onChange={(e) => setAllowDropped(e.target.checked)}
              />
              Restore without the columns dropped since the backup (their values in the backup are lost)
            </label>
          )}
          <TypedConfirmation
            word={CONFIRM_WORD}
            purpose={`to replace the current data of ${props.organizationLabel} with this backup`}
            value={confirm}
            onChange={setConfirm}
          />
          <button type="submit" className="button button-danger" disabled={!canRestore}>
            Restore now
          </button>
        </form>
      )}

      {result && <Result report={result} onUndo={() => undo(result)} />}
    </div>
  );
}

function describeBackup(b: RestoreTarget): string {
  const when = b.completed_at ? `${formatDate(b.completed_at)} ${formatTime(b.completed_at)}` : b.backup_date;
  const records = b.total_records ? ` · ${formatCount(b.total_records)} records` : "";
  return `${when} · ${typeLabel(b.backup_type)}${records}`;
}

type TableReport = RestoreReport["tables"][string];

/** The preview's count columns; a would_* count is null where a failed dry run did not reach it. */
const PREVIEW_COUNTS: (Column & { count: (t: TableReport) => number | null })[] = [
  { label: "Rows now", numeric: true, count: (t) => t.rows_now },
  { label: "In backup", numeric: true, count: (t) => t.record_count },
  { label: "Would insert", numeric: true, count: (t) => t.would_insert },
  { label: "Would delete", numeric: true, count: (t) => t.would_delete },
  { label: "Would change", numeric: true, count: (t) => t.would_change },
];

const changes = (t: TableReport) => (t.would_insert ?? 0) + (t.would_delete ?? 0) + (t.would_change ?? 0);

function Preview({ report }: { report: RestoreReport }) {
  const s = report.summary;
  // Tables with changes first: with dozens of tables, what the restore would do is at the top.
  const rows = Object.entries(report.tables).sort(
    ([, a], [, b]) => Number(changes(b) > 0) - Number(changes(a) > 0),
  );
  return (
    <section className="preview" aria-labelledby="preview-title">
      <h3 id="preview-title">Dry run: what the restore would do</h3>
      <p className={report.success ? "ok" : "bad"}>
        {!report.success
          ? `The restore would fail: ${s.errors[0]?.message ?? report.message}. Nothing was changed.`
          : s.mode === "none"
            ? "The restore would put back the files below and leave the rows alone. Nothing was changed."
            : `The restore would succeed: ${formatCount(s.total_records_in_backup)} records in ${s.total_tables} tables. Nothing was changed.`}
      </p>
      {report.files && <FileChanges files={report.files} planned />}
      {s.mode !== "none" && (
        <div className="table-wrap">
          <table className="table compact">
            <TableHead columns={[{ label: "Table" }, ...PREVIEW_COUNTS]} />
            <tbody>
              {rows.map(([name, t]) => (
                <tr key={name} className={changes(t) > 0 ? "changed" : ""}>
                  <td className="mono" data-label="Table">
                    {name}
                  </td>
                  {PREVIEW_COUNTS.map(({ label, count }) => (
                    <td key={label} className="num" data-label={label}>
                      {formatCount(count(t) ?? 0)}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {s.warnings.length > 0 && (
        <div className="notice notice-warn">
          <p className="notice-title">Warnings</p>
          <ul>
            {s.warnings.map((w) => (
              <li key={w}>{w}</li>
            ))}
          </ul>
        </div>
      )}
      {s.mode !== "none" && (
        <div className="mode">
          <p className="notice-title">
            Mode: <span className="mono">{s.mode}</span>
          </p>
          {s.mode === "replica" ? (
            <p>
              The app's triggers will not fire: rows are written exactly as they are in the backup, without
              the audit entries, notifications or timestamps that triggers would add. Foreign keys are checked
              once for the whole restore before it is committed.
            </p>
          ) : (
            <p>
              The app's triggers will fire: this database does not let the restore switch them off, so every
              trigger on these tables runs for each row inserted, changed or deleted — audit entries,
              notifications, updated timestamps or cascades happen as if someone had made these changes by
              hand.
            </p>
          )}
        </div>
      )}
    </section>
  );
}

function Result({ report, onUndo }: { report: RestoreReport; onUndo: () => void }) {
  const s = report.summary;
  return (
    <section className="result" aria-labelledby="result-title">
      <h3 id="result-title">Restore completed</h3>
      {s.mode !== "none" && (
        <p className="ok">
          Restored {formatCount(s.total_records_restored)} records in {s.total_tables} tables from the backup
          of {s.backup_date}.
        </p>
      )}
      {report.files && <FileChanges files={report.files} planned={false} />}
      {s.undo_backup_id && (
        <>
          <p>
            Undo point: the data as it was just before this restore is kept as backup{" "}
            <span className="mono">{s.undo_backup_id}</span> (type “Undo point” in the list).
          </p>
          <button type="button" className="button" onClick={onUndo}>
            Undo this restore
          </button>
          <p className="muted">Undoing restores that backup the same way: a dry run first, then CONFIRM.</p>
        </>
      )}
    </section>
  );
}

const ACTION_LABELS = { add: "Add", replace: "Replace", remove: "Remove" } as const;

/** The files step: what a dry run would change, or what the restore changed (and whether it finished). */
function FileChanges({ files, planned }: { files: FilesRestoreReport; planned: boolean }) {
  const [add, replace, remove] = planned
    ? ["to add", "to replace", "to remove"]
    : ["added", "replaced", "removed"];
  const counts = `${formatCount(files.added)} ${add}, ${formatCount(files.replaced)} ${replace}, ${formatCount(files.removed)} ${remove}, ${formatCount(files.unchanged)} unchanged`;
  return (
    <div className="files-preview">
      <p className="notice-title">Files</p>
      {files.success ? (
        <p>{planned ? `Files: ${counts}.` : `Files restored: ${counts}.`}</p>
      ) : (
        <p className="bad">
          The files were not all restored: {files.error}. The rows stay restored; restore again with “Restore
          only the files” to finish.
        </p>
      )}
      {files.changes.length > 0 && (
        <div className="table-wrap">
          <table className="table compact">
            <TableHead
              columns={[
                { label: "File" },
                { label: "Bucket" },
                { label: "Change" },
                { label: "Size", numeric: true },
              ]}
            />
            <tbody>
              {files.changes.map((c) => (
                <tr key={`${c.bucket}/${c.path}`} className="changed">
                  <td className="mono" data-label="File">
                    {c.path}
                  </td>
                  <td className="mono" data-label="Bucket">
                    {c.bucket}
                  </td>
                  <td data-label="Change">{ACTION_LABELS[c.action]}</td>
                  <td className="num" data-label="Size">
                    {formatCount(c.bytes)} B
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

export const restore: Section = { id: "restore", title: "Restore", Component: Restore };
