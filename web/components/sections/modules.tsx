/**
 * Modules: one card per module with the organization's record count, to export a table as CSV (plain, or
 * guarded for spreadsheets), download its template, and import a CSV — checked first (a dry run listing
 * what would be inserted, updated or refused, by line), then imported for real on confirmation, with an
 * undo point the restore section can restore.
 */
import { useCallback, useEffect, useId, useState } from "react";
import type { ImportReport, ModuleList } from "../../client/types.ts";
import { ErrorNotice } from "../ErrorNotice.tsx";
import { dayOfBackupId, formatCount } from "../format.ts";
import type { Section, SectionProps } from "../section.ts";

type ModuleEntry = ModuleList["modules"][number];

/** Files larger than this go through a signed upload to storage: IMPORT_MAX_BYTES' default. */
const BODY_LIMIT_BYTES = 5_000_000;

function Modules(props: SectionProps) {
  const { client, organization, organizationLabel, onSignInAgain } = props;
  const [modules, setModules] = useState<ModuleEntry[] | null>(null);
  const [importing, setImporting] = useState<{ module: string; table: string } | null>(null);
  const [error, setError] = useState<unknown>(null);

  const load = useCallback(async () => {
    setError(null);
    try {
      setModules((await client.listModules(organization.id)).modules);
    } catch (err) {
      setError(err);
    }
  }, [client, organization.id]);

  useEffect(() => {
    setModules(null);
    setImporting(null);
    void load();
  }, [load]);

  async function run(work: () => Promise<void>) {
    setError(null);
    try {
      await work();
    } catch (err) {
      setError(err);
    }
  }

  return (
    <div className="modules">
      <p className="muted">
        The records of {organizationLabel} by module, as CSV files: export them, fill in a template, and
        import corrections or new records (checked first, then imported with an undo point).
      </p>
      {modules === null && !error && <p className="muted">Loading the modules…</p>}
      <ul className="module-cards">
        {(modules ?? []).map((m) => (
          <ModuleCard
            key={m.name}
            module={m}
            onExport={(table, forSpreadsheet) =>
              run(async () =>
                save(await client.exportModule(organization.id, m.name, { table, forSpreadsheet })),
              )
            }
            onTemplate={(table) =>
              run(async () => {
                const template = await client.moduleTemplate(organization.id, m.name, table);
                save({
                  blob: new Blob([template.header], { type: "text/csv" }),
                  filename: `${table}_template.csv`,
                });
              })
            }
            onImport={(table) => setImporting({ module: m.name, table })}
          />
        ))}
      </ul>
      {importing && (
        <ImportPanel
          {...props}
          target={importing}
          onClose={() => setImporting(null)}
          onImported={async () => {
            await load();
            await props.reload();
          }}
        />
      )}
      <ErrorNotice
        error={error}
        organization={organizationLabel}
        onSignInAgain={onSignInAgain}
        onRetry={load}
      />
    </div>
  );
}

function ModuleCard(props: {
  module: ModuleEntry;
  onExport: (table: string, forSpreadsheet: boolean) => void;
  onTemplate: (table: string) => void;
  onImport: (table: string) => void;
}) {
  const { module } = props;
  const [table, setTable] = useState(module.tables[0]?.name ?? "");
  const tableId = useId();
  return (
    <li className="module-card">
      <div className="module-name">{module.name}</div>
      <div className="module-records">{formatCount(module.records)} records</div>
      {module.tables.length > 1 && (
        <div className="field">
          <label htmlFor={tableId}>Table</label>
          <select id={tableId} value={table} onChange={(e) => setTable(e.target.value)}>
            {module.tables.map((t) => (
              <option key={t.name} value={t.name}>
                {t.name} ({formatCount(t.records)})
              </option>
            ))}
          </select>
        </div>
      )}
      <div className="row">
        <button type="button" className="button button-small" onClick={() => props.onExport(table, false)}>
          Export CSV
        </button>
        <button
          type="button"
          className="button button-small"
          title="Cells that start with =, +, - or @ get a ' so that a spreadsheet shows them instead of running them"
          onClick={() => props.onExport(table, true)}
        >
          For spreadsheets
        </button>
        <button type="button" className="button button-small" onClick={() => props.onTemplate(table)}>
          Template
        </button>
        <button type="button" className="button button-small" onClick={() => props.onImport(table)}>
          Import…
        </button>
      </div>
    </li>
  );
}

function ImportPanel(
  props: SectionProps & {
    target: { module: string; table: string };
    onClose: () => void;
    onImported: () => Promise<void>;
  },
) {
  const { client, organization, organizationLabel, target, onSignInAgain, chooseForRestore } = props;
  const [file, setFile] = useState<File | null>(null);
  /** Where a file too large for a request body was put in storage, once. */
  const [upload, setUpload] = useState<string | null>(null);
  const [mode, setMode] = useState<"upsert" | "insert">("upsert");
  const [preview, setPreview] = useState<ImportReport | null>(null);
  const [result, setResult] = useState<ImportReport | null>(null);
  const [working, setWorking] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const ids = { file: useId(), mode: useId() };

  async function send(dryRun: boolean) {
    if (!file) return;
    setWorking(true);
    setError(null);
    try {
      let key = upload;
      if (key === null && file.size > BODY_LIMIT_BYTES) {
        key = await client.uploadCsv(organization.id, file);
        setUpload(key);
      }
      const report = await client.importModule(
        organization.id,
        target.module,
        key ? { upload: key } : { data: file },
        {
          table: target.table,
          dryRun,
          mode,
        },
      );
      if (dryRun) setPreview(report);
      else {
        // A real import deletes its upload: another try starts from the file again.
        setUpload(null);
        setResult(report);
        if (report.success) await props.onImported();
      }
    } catch (err) {
      setError(err);
    } finally {
      setWorking(false);
    }
  }

  const changes = preview ? preview.summary.would_insert + preview.summary.would_update : 0;
  return (
    <div className="import-panel">
      <h3>
        Import into {target.table} ({target.module})
      </h3>
      <div className="row">
        <div className="field">
          <label htmlFor={ids.file}>CSV file</label>
          <input
            id={ids.file}
            type="file"
            accept=".csv,text/csv"
            onChange={(e) => {
              setPreview(null);
              setResult(null);
              setUpload(null);
              setFile(e.target.files?.[0] ?? null);
            }}
          />
        </div>
        <div className="field">
          <label htmlFor={ids.mode}>Mode</label>
          <select
            id={ids.mode}
            value={mode}
            onChange={(e) => {
              setMode(e.target.value as "upsert" | "insert");
              setPreview(null);
            }}
          >
            <option value="upsert">Update existing, add new</option>
            <option value="insert">Add new only</option>
          </select>
        </div>
        <button type="button" className="button" onClick={() => send(true)} disabled={!file || working}>
          {working && !preview ? "Checking…" : "Check (dry run)"}
        </button>
        <button type="button" className="button button-small" onClick={props.onClose}>
          Close
        </button>
      </div>
      {preview && !result && (
        <div className="preview">
          <Summary report={preview} />
          {preview.summary.refused === 0 && preview.errors.length === 0 ? (
            <div className="confirm">
              <button
                type="button"
                className="button button-primary"
                onClick={() => send(false)}
                disabled={working || changes === 0}
              >
                {working ? "Importing…" : `Import ${changes} change${changes === 1 ? "" : "s"}`}
              </button>
            </div>
          ) : (
            <p className="muted">
              Fix the refused rows in the file and check it again: nothing is imported while a row is refused.
            </p>
          )}
        </div>
      )}
      {result && (
        <div className={result.success ? "result" : "preview"} role="status">
          <Summary report={result} />
          {result.success && result.undo_backup_id && (
            <p>
              Imported. Undo point <span className="mono">{result.undo_backup_id}</span>{" "}
              <button
                type="button"
                className="button button-small"
                onClick={() =>
                  chooseForRestore({
                    backup_id: result.undo_backup_id as string,
                    backup_date: dayOfBackupId(result.undo_backup_id as string) ?? "",
                    backup_type: "pre_restore",
                    completed_at: new Date().toISOString(),
                    total_records: 0,
                  })
                }
              >
                Undo this import
              </button>
            </p>
          )}
        </div>
      )}
      <ErrorNotice error={error} organization={organizationLabel} onSignInAgain={onSignInAgain} />
    </div>
  );
}

function Summary({ report }: { report: ImportReport }) {
  const s = report.summary;
  const figures = report.dry_run
    ? [
        ["Would add", s.would_insert],
        ["Would update", s.would_update],
        ["Unchanged", s.unchanged],
        ["Refused", s.refused],
      ]
    : [
        ["Added", s.inserted],
        ["Updated", s.updated],
        ["Refused", s.refused],
      ];
  return (
    <>
      <dl className="facts import-summary">
        {figures.map(([label, n]) => (
          <div className="fact" key={label}>
            <dt>{label}</dt>
            <dd>
              <span className="fact-main">{formatCount(Number(n))}</span>
            </dd>
          </div>
        ))}
      </dl>
      {report.errors.length > 0 && (
        <table className="table compact import-errors">
          <caption>
            Refused rows
            {report.errors_total > report.errors.length
              ? ` (first ${report.errors.length} of ${report.errors_total})`
              : ""}
          </caption>
          <thead>
            <tr>
              <th scope="col">Line</th>
              <th scope="col">Column</th>
              <th scope="col">Problem</th>
            </tr>
          </thead>
          <tbody>
            {report.errors.map((e) => (
              <tr key={`${e.line}-${e.column}-${e.message}`}>
                <td className="num">{e.line ?? "—"}</td>
                <td className="mono">{e.column ?? "—"}</td>
                <td>{e.message}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

/** Hands a file to the browser to save under its name. */
function save(file: { blob: Blob; filename: string }) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(file.blob);
  a.download = file.filename;
  setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
  document.body.append(a);
  a.click();
  a.remove();
}

export const modules: Section = { id: "modules", title: "Modules (CSV)", Component: Modules };
