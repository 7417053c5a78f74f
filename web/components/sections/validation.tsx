/**
 * Data checks: the organization's rows checked against the validation rules (validate-tenant-data), per
 * table and rule: its status, how many rows break it and the keys of the first ones, with what to do
 * about them; and the report as CSV for a spreadsheet. The same check runs before every backup. Below
 * it, the rules and the schema's proposals (ValidationRules.tsx).
 */
import { useCallback, useEffect, useState } from "react";
import type { ValidationAnswer, ValidationResult } from "../../client/types.ts";
import { ErrorNotice } from "../ErrorNotice.tsx";
import { formatCount, formatDateTime } from "../format.ts";
import type { Section, SectionProps } from "../section.ts";
import { type Column, ListTable } from "../Table.tsx";
import { ValidationRules } from "../ValidationRules.tsx";

const COLUMNS: Column[] = [
  { label: "Table" },
  { label: "Column" },
  { label: "Rule" },
  { label: "Status" },
  { label: "Rows", numeric: true },
  { label: "First offending keys" },
];

const KIND_LABELS: Record<ValidationResult["kind"], string> = {
  required: "required",
  format: "format",
  range: "range",
  date_order: "dates in order",
  not_in_past: "not in the past",
  not_in_future: "not in the future",
  references: "references",
  unique_in_tenant: "unique",
  one_of: "one of",
};

/** A key as text: "id=5", or "order_id=1 line=2" for a key of several columns. */
function keyText(key: Record<string, string>): string {
  return Object.entries(key)
    .map(([column, value]) => `${column}=${value}`)
    .join(" ");
}

/** Per table, then column and rule: how an admin reads down the list. */
function sorted(results: ValidationResult[]): ValidationResult[] {
  const key = (r: ValidationResult) => `${r.table}\u0000${r.column}\u0000${r.kind}`;
  return [...results].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

function Validation({ client, organization, organizationLabel, superAdmin, onSignInAgain }: SectionProps) {
  const [report, setReport] = useState<ValidationAnswer | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const check = useCallback(async () => {
    setLoading(true);
    setError(null);
    try {
      setReport(await client.validate(organization.id));
    } catch (err) {
      setError(err);
    } finally {
      setLoading(false);
    }
  }, [client, organization.id]);

  useEffect(() => {
    setReport(null);
    void check();
  }, [check]);

  async function exportCsv() {
    try {
      const { blob, filename } = await client.validationCsv(organization.id);
      const a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = filename;
      a.rel = "noopener";
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
    } catch (err) {
      setError(err);
    }
  }

  const summary = report?.summary;
  return (
    <div className="validation">
      <p className="muted">
        The data of {organizationLabel} checked against the validation rules, the same check that runs before
        every backup.
      </p>
      {summary && (
        <p
          className={summary.failed > 0 || summary.errors > 0 ? "bad" : "ok"}
          data-testid="validation-summary"
        >
          {summary.rules === 0
            ? "No validation rules yet."
            : summary.failed === 0 && summary.errors === 0
              ? `✓ All ${summary.rules} rules pass.`
              : `${summary.failed} of ${summary.rules} rules broken by ${formatCount(summary.violations)} rows` +
                (summary.errors > 0 ? `; ${summary.errors} not checked` : "") +
                "."}{" "}
          <span className="muted">Checked {formatDateTime(summary.checked_at)}.</span>
        </p>
      )}
      <div className="row">
        <button type="button" className="button" onClick={() => void check()} disabled={loading}>
          {loading ? "Checking…" : "Check now"}
        </button>
        <button type="button" className="button" onClick={() => void exportCsv()} disabled={!report}>
          Export report (CSV)
        </button>
      </div>
      <ErrorNotice error={error} onSignInAgain={onSignInAgain} />
      <ListTable
        className="validation-results"
        caption={`Validation rules checked for ${organizationLabel}`}
        busy={loading}
        columns={COLUMNS}
        rowCount={report ? report.results.length : null}
        emptyText="No validation rules yet: a super admin adds them below."
      >
        {sorted(report?.results ?? []).map((r) => (
          <tr key={r.rule_id} className={r.violations ? "row-bad" : undefined}>
            <td data-label="Table">{r.table}</td>
            <td data-label="Column">{r.column}</td>
            <td data-label="Rule" title={r.message}>
              {KIND_LABELS[r.kind]}
            </td>
            <td data-label="Status" className="verdict">
              {r.error !== undefined ? (
                <span className="bad" title={r.error}>
                  not checked
                </span>
              ) : r.violations ? (
                <span className="bad" title={r.message}>
                  ✗ broken
                </span>
              ) : (
                <span className="ok">✓ ok</span>
              )}
            </td>
            <td data-label="Rows" className="num">
              {r.violations === null ? "—" : formatCount(r.violations)}
            </td>
            <td data-label="First offending keys">
              {r.sample_keys.length > 0 ? (
                <>
                  <code>{r.sample_keys.map(keyText).join(", ")}</code>
                  {r.violations !== null && r.violations > r.sample_keys.length && (
                    <span className="muted">
                      {" "}
                      and {formatCount(r.violations - r.sample_keys.length)} more
                    </span>
                  )}
                </>
              ) : (
                <span className="muted">{r.error ?? "—"}</span>
              )}
            </td>
          </tr>
        ))}
      </ListTable>
      <ValidationRules
        client={client}
        organizationId={organization.id}
        superAdmin={superAdmin}
        onChanged={() => void check()}
        onSignInAgain={onSignInAgain}
      />
    </div>
  );
}

export const validation: Section = { id: "validation", title: "Data checks", Component: Validation };
