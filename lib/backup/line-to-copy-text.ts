/**
 * A backup line turned back into a row of COPY's text format: the inverse of copyTextToLine
 * (copy-text.ts). The line is the JSON array of the row's values' texts, null for NULL; the row is those
 * texts tab separated, NULL as `\N`, with the backslash and the characters COPY reads as separators
 * (\n, \r, \t) escaped, so that `COPY … FROM` hands each value to its type's input function as the export
 * read it out of its output function.
 *
 * Done on the line's UTF-8 bytes, never decoded to a string. Every JSON escape is understood (the short
 * ones, `\/`, and `\uXXXX` including surrogate pairs, written back as UTF-8), so a line written by another
 * JSON writer reads the same. What is not an array of strings and nulls with nothing between its tokens
 * (the form both writers give), a `\u0000` (no text value holds it) or a lone surrogate is refused with a
 * NotABackupLine: the caller then stages that table's lines as text and the database judges them.
 */

import { slabRow } from "./slab.ts";

export class NotABackupLine extends Error {}

const TAB = 0x09;
const NEWLINE = 0x0a;
const BACKSLASH = 0x5c;
const QUOTE = 0x22;
const COMMA = 0x2c;
const OPEN = 0x5b;
const CLOSE = 0x5d;

/** By byte after a backslash in a JSON string (short escapes only): the byte it stands for, or -1. */
const JSON_UNESCAPED = new Int16Array(256).fill(-1);
for (const [c, b] of Object.entries({ '"': 0x22, "\\": 0x5c, "/": 0x2f, b: 8, f: 12, n: 10, r: 13, t: 9 }))
  JSON_UNESCAPED[c.charCodeAt(0)] = b;
/** By byte of a value: the letter COPY's text format escapes it with after a backslash (0: as it is). */
const COPY_ESCAPE = new Uint8Array(256);
COPY_ESCAPE[BACKSLASH] = BACKSLASH;
COPY_ESCAPE[NEWLINE] = "n".charCodeAt(0);
COPY_ESCAPE[0x0d] = "r".charCodeAt(0);
COPY_ESCAPE[TAB] = "t".charCodeAt(0);

function refuse(why: string): never {
  throw new NotABackupLine(`not a backup line: ${why}`);
}

/** The value of 4 hex digits at line[at..at+4). */
function hex4(line: Uint8Array, at: number, end: number): number {
  if (at + 4 > end) refuse("a \\u escape is cut short");
  let v = 0;
  for (let i = at; i < at + 4; i++) {
    const c = line[i] as number;
    const d =
      c >= 0x30 && c <= 0x39
        ? c - 0x30
        : c >= 0x61 && c <= 0x66
          ? c - 0x57
          : c >= 0x41 && c <= 0x46
            ? c - 0x37
            : -1;
    if (d < 0) refuse("a \\u escape holds a character that is not hex");
    v = v * 16 + d;
  }
  return v;
}

/** By byte inside a JSON string: 1 when it is copied as it is (not `"`, `\\`, nor below 0x20). */
const PLAIN = Uint8Array.from({ length: 256 }, (_, b) =>
  b >= 0x20 && b !== QUOTE && b !== BACKSLASH ? 1 : 0,
);

/** Writes byte `b` of a value at out[at] as COPY's text format reads it; answers where it ends. */
function putByte(out: Buffer, at: number, b: number): number {
  const e = COPY_ESCAPE[b] as number;
  if (e === 0) {
    out[at] = b;
    return at + 1;
  }
  out[at] = BACKSLASH;
  out[at + 1] = e;
  return at + 2;
}

/** Writes code point `cp` (not below 0x80) as UTF-8 at out[at]; answers where it ends. */
function putUtf8(out: Buffer, at: number, cp: number): number {
  if (cp < 0x800) {
    out[at++] = 0xc0 | (cp >> 6);
  } else if (cp < 0x10000) {
    out[at++] = 0xe0 | (cp >> 12);
    out[at++] = 0x80 | ((cp >> 6) & 0x3f);
  } else {
    out[at++] = 0xf0 | (cp >> 18);
    out[at++] = 0x80 | ((cp >> 12) & 0x3f);
    out[at++] = 0x80 | ((cp >> 6) & 0x3f);
  }
  out[at++] = 0x80 | (cp & 0x3f);
  return at;
}

/**
 * Reads the escape at line[i] (a backslash) of a JSON string and writes what it stands for at out[at];
 * answers [where the escape ends in the line, where the value goes on in out].
 */
function putEscape(line: Uint8Array, i: number, out: Buffer, at: number): [number, number] {
  const end = line.length;
  if (i + 1 >= end) refuse("a string is not closed");
  const e = line[i + 1] as number;
  const short = JSON_UNESCAPED[e] as number;
  if (short >= 0) return [i + 2, putByte(out, at, short)];
  if (e !== 0x75) refuse("an unknown escape");
  let cp = hex4(line, i + 2, end);
  i += 6;
  if (cp >= 0xdc00 && cp <= 0xdfff) refuse("a lone low surrogate");
  if (cp >= 0xd800 && cp <= 0xdbff) {
    if (line[i] !== BACKSLASH || line[i + 1] !== 0x75) refuse("a lone high surrogate");
    const low = hex4(line, i + 2, end);
    if (low < 0xdc00 || low > 0xdfff) refuse("a lone high surrogate");
    cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
    i += 6;
  }
  if (cp === 0) refuse("\\u0000 (no text value holds it)");
  return [i, cp < 0x80 ? putByte(out, at, cp) : putUtf8(out, at, cp)];
}

/**
 * Writes the COPY text row of backup line `line` (without its "\n") into `out` at `at`, which has room for
 * `line.length` bytes (a row is never longer than its line); answers where the row ends.
 */
export function writeCopyRow(line: Uint8Array, out: Buffer, at: number): number {
  const end = line.length;
  let i = 0;
  if (line[i++] !== OPEN) refuse("no opening [");
  if (line[i] === CLOSE && i + 1 === end) refuse("a row has at least one value");
  for (let first = true; ; first = false) {
    if (!first) out[at++] = TAB;
    const c = line[i];
    if (c === QUOTE) {
      i += 1;
      for (;;) {
        if (i >= end) refuse("a string is not closed");
        const b = line[i] as number;
        if (PLAIN[b] === 1) {
          out[at++] = b;
          i++;
        } else if (b === QUOTE) {
          i++;
          break;
        } else if (b === BACKSLASH) {
          [i, at] = putEscape(line, i, out, at);
        } else {
          refuse("a control character is not escaped");
        }
      }
    } else if (c === 0x6e && line[i + 1] === 0x75 && line[i + 2] === 0x6c && line[i + 3] === 0x6c) {
      i += 4;
      out[at++] = BACKSLASH;
      out[at++] = 0x4e;
    } else {
      refuse("a value is neither a string nor null");
    }
    const next = line[i++];
    if (next === CLOSE) {
      if (i !== end) refuse("something follows the closing ]");
      return at;
    }
    if (next !== COMMA) refuse("values are not separated by a comma");
  }
}

/** The COPY text row of one backup line (without its "\n"), in a shared slab (lib/backup/slab.ts). */
export function lineToCopyText(line: Uint8Array): Buffer {
  return slabRow(line, line.length, writeCopyRow);
}
