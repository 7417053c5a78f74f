/**
 * A row of COPY's text format turned into a backup line: the JSON array of its values' texts (null for
 * NULL), byte for byte what the database's own export writes (`array_to_json(array[…])::text`, see
 * tenant_backup_export_sql), so that a backup's lines are the same whichever way they were read.
 *
 * COPY's text format separates values by tabs, writes NULL as `\N`, and escapes in a value only the
 * backslash (`\\`) and the control characters \b \f \n \r \t \v; every other character is written as it
 * is. JSON.stringify of a string escapes exactly what PostgreSQL's escape_json does: `"`, `\`, \b \f \n
 * \r \t by name and every other character below U+0020 as \u00xx (lower-case hex); nothing else.
 */

const ESCAPED: Record<string, string> = { b: "\b", f: "\f", n: "\n", r: "\r", t: "\t", v: "\v" };
const ESCAPE = /\\(.)/gs;

function unescapeValue(value: string): string {
  return value.replace(ESCAPE, (_, c: string) => ESCAPED[c] ?? c);
}

/** The backup line of one COPY text row (without its "\n"). */
export function copyTextToLine(row: string): string {
  const values: (string | null)[] = row.split("\t");
  for (let i = 0; i < values.length; i++) {
    const value = values[i] as string;
    if (value.includes("\\")) values[i] = value === "\\N" ? null : unescapeValue(value);
  }
  return JSON.stringify(values);
}
