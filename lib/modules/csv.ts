/**
 * CSV as PostgreSQL's COPY … (FORMAT csv, HEADER) writes it, and a parser for what spreadsheets send back.
 *
 * Writing (RFC 4180 fields, "\n" line ends as COPY writes them): NULL is an empty field; a value is quoted
 * when it is empty (so that it differs from NULL), holds a comma, a quote, CR or LF, or, in a one-column
 * file, is exactly `\.`; quotes inside are doubled.
 *
 * Reading: UTF-8 with or without a BOM, CRLF or LF line ends, quoted fields spanning lines, doubled quotes.
 * An unquoted empty field is NULL, a quoted one the empty string, as COPY reads them. Lines that hold
 * nothing at all are skipped (spreadsheets leave them at the end).
 */

/** One field as COPY writes it; `single`: the file has one column. */
export function csvField(value: string | null, single: boolean): string {
  if (value === null) return "";
  if (value === "" || /[",\r\n]/.test(value) || (single && value === "\\.")) {
    return `"${value.replaceAll('"', '""')}"`;
  }
  return value;
}

/** One record, its line end included. */
export function csvLine(values: readonly (string | null)[]): string {
  const single = values.length === 1;
  return `${values.map((v) => csvField(v, single)).join(",")}\n`;
}

export interface CsvRecord {
  /** The physical line of the file the record starts on, from 1. */
  line: number;
  fields: (string | null)[];
}

export class CsvSyntaxError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
    this.name = "CsvSyntaxError";
  }
}

/** The records of `text` (already decoded; a leading BOM is dropped). Throws CsvSyntaxError. */
export function* parseCsv(text: string): Generator<CsvRecord> {
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  const n = text.length;
  while (i < n) {
    const start = line;
    const fields: (string | null)[] = [];
    let blank = true;
    for (;;) {
      // One field, then a comma (another field follows) or a line end / the end of the text.
      if (text[i] === '"') {
        blank = false;
        let value = "";
        i += 1;
        for (;;) {
          const quote = text.indexOf('"', i);
          if (quote === -1) throw new CsvSyntaxError(start, "a quoted field is never closed");
          const chunk = text.slice(i, quote);
          value += chunk;
          line += countLineEnds(chunk);
          if (text[quote + 1] === '"') {
            value += '"';
            i = quote + 2;
          } else {
            i = quote + 1;
            break;
          }
        }
        fields.push(value);
        const next = text[i];
        if (next !== undefined && next !== "," && next !== "\n" && next !== "\r") {
          throw new CsvSyntaxError(
            line,
            "a quoted field is followed by something other than a comma or a line end",
          );
        }
      } else {
        let end = i;
        while (end < n && text[end] !== "," && text[end] !== "\n" && text[end] !== "\r") end += 1;
        const value = text.slice(i, end);
        if (value.includes('"')) throw new CsvSyntaxError(line, "a quote inside an unquoted field");
        if (value !== "") blank = false;
        fields.push(value === "" ? null : value);
        i = end;
      }
      if (text[i] === ",") {
        blank = false;
        i += 1;
        continue;
      }
      break;
    }
    // The line end: CRLF, LF or a lone CR.
    if (text[i] === "\r") i += 1;
    if (text[i] === "\n") i += 1;
    line += 1;
    if (!blank) yield { line: start, fields };
  }
}

function countLineEnds(text: string): number {
  // CRLF counts once; a lone CR or LF once each.
  return (text.match(/\r\n|\r|\n/g) ?? []).length;
}
