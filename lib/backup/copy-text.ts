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
 * row writes the line, into a shared slab (lib/backup/slab.ts). A row that spans several of the pieces it
 * was read in (a row of MBs spans dozens) is turned from those pieces, never joined first
 * (copyPiecesToLine): joined, it would be held twice beside its line.
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

/**
 * The most bytes the line of `row` can take: each byte of the row becomes at most 6 of the line (a control
 * character as \u00xx); a tab 1 (","), minus the 2 quotes its values add; "\N" 4 ("null"); plus "[" and "]".
 */
function mostLineBytes(row: Buffer): number {
  return row.length * 6 + 4;
}

/** The backup line of one COPY text row (without its "\n"). */
export function copyTextToLine(row: Buffer): Buffer {
  // A long row's line is sized exactly by a first pass: a 5 MB value then takes its line's bytes, not six
  // times as many.
  return slabRow(row, mostLineBytes(row), writeLine, lineLength);
}

/** Rows whose line may take more than this get a buffer of their own in copyTextLineView. */
const VIEW_SCRATCH_MOST = 1024 * 1024;
let viewScratch = Buffer.allocUnsafe(0);

/**
 * The backup line of one COPY text row (without its "\n"), written into a buffer it writes every line
 * into: good until its next call. For a caller that only reads the line (to hash it) and keeps the row,
 * where copyTextToLine's lines, each kept, would be as much memory again as the rows.
 */
export function copyTextLineView(row: Buffer): Buffer {
  const most = mostLineBytes(row);
  if (most > viewScratch.length) {
    if (most > VIEW_SCRATCH_MOST) {
      const out = Buffer.allocUnsafe(lineLength(row));
      return out.subarray(0, writeLine(row, out, 0));
    }
    viewScratch = Buffer.allocUnsafe(Math.max(most, 64 * 1024));
  }
  return viewScratch.subarray(0, writeLine(row, viewScratch, 0));
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

/**
 * Where copyPiecesToLine is in a row: at a value's start, inside one (just after a backslash or not), or
 * at a value's start that began with a backslash (then with "\N": NULL if the value ends there).
 */
const At = { Start: 0, Value: 1, Escape: 2, StartEscape: 3, StartNull: 4 } as const;

/**
 * The backup line of one COPY text row given as the pieces it arrived in, in order (without its "\n"):
 * the very bytes copyTextToLine writes for those pieces joined, without joining them. A byte at a time,
 * which is slower than copyTextToLine's runs; it only serves rows that span pieces.
 */
export function copyPiecesToLine(pieces: readonly Buffer[]): Buffer {
  const out = Buffer.allocUnsafe(piecesToLine(pieces, null));
  piecesToLine(pieces, out);
  return out;
}

/** Writes the line into `out` (none: only counts); answers its length. */
function piecesToLine(pieces: readonly Buffer[], out: Buffer | null): number {
  let at = 0;
  const put = (b: number) => {
    if (out) out[at] = b;
    at += 1;
  };
  /** A value's byte, escaped as the line escapes it. */
  const putValue = (b: number) => {
    const short = JSON_SHORT[b] as number;
    if (short !== 0) {
      put(BACKSLASH);
      put(short);
    } else if (b < 0x20) {
      for (const c of [BACKSLASH, 0x75, 0x30, 0x30, HEX[b >> 4] as number, HEX[b & 15] as number]) put(c);
    } else {
      put(b);
    }
  };
  /** A value's end: its closing quote, and the comma before the next. */
  const endValue = () => {
    put(QUOTE);
    put(0x2c);
  };
  const putNull = () => {
    for (const c of [0x6e, 0x75, 0x6c, 0x6c]) put(c);
  };
  /** A byte inside a value; answers the state after it. */
  const inValue = (b: number): number => {
    if (b === TAB) {
      endValue();
      return At.Start;
    }
    if (b === BACKSLASH) return At.Escape;
    putValue(b);
    return At.Value;
  };
  /** The byte after a backslash; answers the state after it. */
  const escaped = (b: number): number => {
    if (b === TAB) {
      // A backslash before a tab escapes nothing: it is a byte of the value.
      putValue(BACKSLASH);
      endValue();
      return At.Start;
    }
    putValue(COPY_UNESCAPED[b] as number);
    return At.Value;
  };
  put(0x5b);
  let state: number = At.Start;
  for (const piece of pieces) {
    for (let i = 0; i < piece.length; i++) {
      const b = piece[i] as number;
      if (state === At.Value) state = inValue(b);
      else if (state === At.Escape) state = escaped(b);
      else if (state === At.Start) {
        if (b === BACKSLASH) state = At.StartEscape;
        else {
          put(QUOTE);
          state = inValue(b);
        }
      } else if (state === At.StartEscape) {
        if (b === 0x4e) state = At.StartNull;
        else {
          put(QUOTE);
          state = escaped(b);
        }
      } else if (b === TAB) {
        // "\N" and the value's end: NULL.
        putNull();
        put(0x2c);
        state = At.Start;
      } else {
        // "\N" followed by more is a value starting with "N"; the byte is its second.
        put(QUOTE);
        putValue(0x4e);
        state = inValue(b);
      }
    }
  }
  switch (state) {
    case At.Start:
      put(QUOTE);
      put(QUOTE);
      break;
    case At.StartEscape:
      put(QUOTE);
      putValue(BACKSLASH);
      put(QUOTE);
      break;
    case At.StartNull:
      putNull();
      break;
    case At.Escape:
      putValue(BACKSLASH);
      put(QUOTE);
      break;
    case At.Value:
      put(QUOTE);
      break;
  }
  put(0x5d);
  return at;
}
