/**
 * A row of COPY's text format turned into a backup line: the JSON array of its values' texts (null for
 * NULL), byte for byte what the database's own export writes (`array_to_json(array[…])::text`, see
 * tenant_backup_export_sql), so that a backup's lines are the same whichever way they were read.
 *
 * COPY's text format separates values by tabs, writes NULL as `\N`, and escapes in a value only the
 * backslash (`\\`) and the control characters \b \f \n \r \t \v; every other character is written as it
 * is. The line escapes what PostgreSQL's escape_json does (and JSON.stringify): `"`, `\`, \b \f \n \r \t
 * by name and every other byte below 0x20 as \u00xx (lower-case hex); nothing else.
 *
 * Done on the row's UTF-8 bytes, never decoded to a string: a row holding a 5 MB value is read twice
 * (once to size the line, once to write it) and written once, where strings held it four or five times
 * (the row, its values, their unescaped copies, the JSON text, its bytes). Escapes and separators are all
 * ASCII, and a multi-byte character's bytes are all 0x80 or above, so they pass through untouched.
 */

const TAB = 0x09;
const BACKSLASH = 0x5c;
const QUOTE = 0x22;
/** By byte after a backslash in COPY's text: the byte it stands for. */
const COPY_UNESCAPED = Uint8Array.from({ length: 256 }, (_, c) => c);
for (const [c, b] of Object.entries({ b: 8, f: 12, n: 10, r: 13, t: 9, v: 11 }))
  COPY_UNESCAPED[c.charCodeAt(0)] = b;
/** By byte of a value: the letter of its short JSON escape (0: none). */
const JSON_SHORT = new Uint8Array(256);
for (const [b, c] of [
  [8, "b"],
  [12, "f"],
  [10, "n"],
  [13, "r"],
  [9, "t"],
  [QUOTE, '"'],
  [BACKSLASH, "\\"],
] as const) {
  JSON_SHORT[b] = c.charCodeAt(0);
}
/** By byte of a value: the bytes it takes in the line. */
const JSON_LENGTH = Uint8Array.from({ length: 256 }, (_, b) => (JSON_SHORT[b] ? 2 : b < 0x20 ? 6 : 1));
const HEX = Buffer.from("0123456789abcdef");

/** Walks the row's values: `value(start, end)` for each, or `nil()` for a NULL. */
function eachValue(row: Uint8Array, value: (start: number, end: number) => void, nil: () => void): void {
  let start = 0;
  for (;;) {
    let end = row.indexOf(TAB, start);
    if (end === -1) end = row.length;
    if (end - start === 2 && row[start] === BACKSLASH && row[start + 1] === 0x4e) nil();
    else value(start, end);
    if (end === row.length) return;
    start = end + 1;
  }
}

/** The backup line of one COPY text row (without its "\n"). */
export function copyTextToLine(row: Buffer): Buffer {
  // First pass: the line's size.
  let size = 1;
  let values = 0;
  eachValue(
    row,
    (start, end) => {
      values += 1;
      size += 2;
      for (let i = start; i < end; i++) {
        let b = row[i] as number;
        if (b === BACKSLASH && i + 1 < end) {
          i += 1;
          b = COPY_UNESCAPED[row[i] as number] as number;
        }
        size += JSON_LENGTH[b] as number;
      }
    },
    () => {
      values += 1;
      size += 4;
    },
  );
  size += values; // the commas and the closing bracket
  // Second pass: the line.
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  out[at++] = 0x5b;
  let first = true;
  const comma = () => {
    if (!first) out[at++] = 0x2c;
    first = false;
  };
  eachValue(
    row,
    (start, end) => {
      comma();
      out[at++] = QUOTE;
      for (let i = start; i < end; i++) {
        let b = row[i] as number;
        if (b === BACKSLASH && i + 1 < end) {
          i += 1;
          b = COPY_UNESCAPED[row[i] as number] as number;
        }
        const short = JSON_SHORT[b] as number;
        if (short !== 0) {
          out[at++] = BACKSLASH;
          out[at++] = short;
        } else if (b < 0x20) {
          at += out.write("\\u00", at, "latin1");
          out[at++] = HEX[b >> 4] as number;
          out[at++] = HEX[b & 15] as number;
        } else {
          out[at++] = b;
        }
      }
      out[at++] = QUOTE;
    },
    () => {
      comma();
      at += out.write("null", at, "latin1");
    },
  );
  out[at++] = 0x5d;
  return out;
}
