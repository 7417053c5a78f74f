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
 * Done on the row's UTF-8 bytes, never decoded to a string: escapes and separators are all ASCII, and a
 * multi-byte character's bytes are all 0x80 or above, so they pass through untouched. One pass over the
 * row writes the line, into a shared slab (lib/backup/slab.ts).
 */
import { slabRow } from "./slab.ts";

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
/** By byte of COPY text: 1 when it is copied to the line as it is (not a separator, escape or quote). */
const PLAIN = Uint8Array.from({ length: 256 }, (_, b) =>
  b >= 0x20 && b !== QUOTE && b !== BACKSLASH ? 1 : 0,
);
const HEX = Buffer.from("0123456789abcdef");

/** The backup line of one COPY text row (without its "\n"). */
export function copyTextToLine(row: Buffer): Buffer {
  // Each byte of the row becomes at most 6 of the line (a control character as \u00xx); a tab 1 (","),
  // minus the 2 quotes its values add; "\N" 4 ("null"); plus "[" and "]". A long row's line is sized
  // exactly by a first pass: a 5 MB value then takes its line's bytes, not six times as many.
  return slabRow(row, row.length * 6 + 4, writeLine, lineLength);
}

/** True when the row's value at `start` is `\N` (NULL): those two bytes, then a tab or the row's end. */
function isNull(row: Buffer, start: number): boolean {
  return (
    row[start] === BACKSLASH &&
    row[start + 1] === 0x4e &&
    (start + 2 === row.length || row[start + 2] === TAB)
  );
}

/** The line's exact length in bytes. */
function lineLength(row: Buffer): number {
  const n = row.length;
  let size = 2; // "[" and "]"
  let i = 0;
  for (;;) {
    if (isNull(row, i)) {
      size += 4;
      i += 2;
    } else {
      size += 2;
      for (; i < n; i++) {
        let b = row[i] as number;
        if (b === TAB) break;
        if (b === BACKSLASH && i + 1 < n && row[i + 1] !== TAB) {
          i += 1;
          b = COPY_UNESCAPED[row[i] as number] as number;
        }
        size += JSON_LENGTH[b] as number;
      }
    }
    if (i >= n) return size;
    size += 1; // ","
    i += 1;
  }
}

/** Writes the line of `row` into `out` from `at`; answers where it ends. */
function writeLine(row: Buffer, out: Buffer, start: number): number {
  const n = row.length;
  let at = start;
  out[at++] = 0x5b;
  let i = 0;
  for (;;) {
    if (isNull(row, i)) {
      out[at] = 0x6e;
      out[at + 1] = 0x75;
      out[at + 2] = 0x6c;
      out[at + 3] = 0x6c;
      at += 4;
      i += 2;
    } else {
      out[at++] = QUOTE;
      for (; i < n; i++) {
        // A run of plain bytes is found first and copied in one go.
        let end = i;
        while (end < n && PLAIN[row[end] as number] === 1) end++;
        if (end - i > 8) {
          at += row.copy(out, at, i, end);
          i = end;
        } else {
          while (i < end) out[at++] = row[i++] as number;
        }
        if (i >= n) break;
        let b = row[i] as number;
        if (b === TAB) break;
        if (b === BACKSLASH && i + 1 < n && row[i + 1] !== TAB) {
          i += 1;
          b = COPY_UNESCAPED[row[i] as number] as number;
        }
        const short = JSON_SHORT[b] as number;
        if (short !== 0) {
          out[at++] = BACKSLASH;
          out[at++] = short;
        } else if (b < 0x20) {
          out[at] = BACKSLASH;
          out[at + 1] = 0x75;
          out[at + 2] = 0x30;
          out[at + 3] = 0x30;
          out[at + 4] = HEX[b >> 4] as number;
          out[at + 5] = HEX[b & 15] as number;
          at += 6;
        } else {
          out[at++] = b;
        }
      }
      out[at++] = QUOTE;
    }
    if (i >= n) break;
    out[at++] = 0x2c;
    i += 1;
  }
  out[at++] = 0x5d;
  return at;
}
