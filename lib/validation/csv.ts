/**
 * A validation report as CSV for spreadsheets (RFC 4180, UTF-8, CRLF): one line per rule. A cell that a
 * spreadsheet would run as a formula (starting with =, +, -, @, tab or CR) is prefixed with ', so that a
 * value taken from the tenant's rows (an offending key) can never run as one.
 */
import type { ValidationReport } from "../api-answers.ts";

const HEADER = ["rule_id", "table", "column", "kind", "violations", "sample_keys", "message"];

export function reportCsv(report: ValidationReport): string {
  const lines = [
    HEADER,
    ...report.results.map((r) => [
      r.rule_id,
      r.table,
      r.column,
      r.kind,
      r.violations === null ? "" : String(r.violations),
      r.sample_keys.map(keyText).join("; "),
      r.message,
    ]),
  ];
  return lines.map((cells) => `${cells.map(cell).join(",")}\r\n`).join("");
}

/** A key as text: "id=5", or "order_id=1 line=2" for a key of several columns. */
export function keyText(key: Record<string, string>): string {
  return Object.entries(key)
    .map(([column, value]) => `${column}=${value}`)
    .join(" ");
}

function cell(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}
