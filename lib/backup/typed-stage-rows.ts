/**
 * A staged page of backup rows as the rows COPY writes into a table's typed staging table
 * (tenant_backup_stage_typed_open): each row is the page's number, the md5 of the row's line as the backup
 * stores it (which the apply matches against the md5 of each of the tenant's rows exported as a line, so
 * an unchanged row is found without rebuilding its line), then the row's values. A page of COPY rows
 * (format 3's chunks) keeps each row as it is and turns it into its line only to hash it; a page of lines
 * (formats 1 and 2) turns each line into its COPY row (line-to-copy-text.ts).
 */
import { createHash } from "node:crypto";
import { copyPiecesToLine, copyTextLineView } from "./copy-text.ts";
import { writeCopyRow } from "./line-to-copy-text.ts";

const NEWLINE = 0x0a;
const TAB = 0x09;
/** Per row, besides the page's number: 32 hex digits, a tab after them, and the row's "\n". */
const ROW_EXTRA = 34;

/**
 * The COPY text of page `page`, whose rows are the bytes of `data` one after the other, "\n" between rows
 * (a row may span buffers): COPY rows when `copy`, else backup lines. Answers the text and how many rows
 * it holds.
 */
export function typedStageRows(
  page: number,
  data: readonly Uint8Array[],
  copy = false,
): { text: Buffer; rows: number } {
  const head = Buffer.from(`${page}\t`);
  return copy ? fromCopyRows(head, data) : fromLines(head, data);
}

function md5Into(line: Uint8Array, out: Buffer, at: number): number {
  return at + out.write(createHash("md5").update(line).digest("hex"), at, "latin1");
}

function fromLines(head: Buffer, data: readonly Uint8Array[]): { text: Buffer; rows: number } {
  // One buffer is read where it lies (Buffer.from of a Uint8Array would copy the page); several are joined.
  const one = data[0] as Uint8Array;
  const lines =
    data.length === 1 ? Buffer.from(one.buffer, one.byteOffset, one.byteLength) : Buffer.concat(data);
  let count = 1;
  for (let at = lines.indexOf(NEWLINE); at !== -1; at = lines.indexOf(NEWLINE, at + 1)) count++;
  // A row is never longer than its line.
  const out = Buffer.allocUnsafe(lines.length + count * (head.length + ROW_EXTRA));
  let at = 0;
  let rows = 0;
  for (let start = 0; start <= lines.length; ) {
    let end = lines.indexOf(NEWLINE, start);
    if (end === -1) end = lines.length;
    const line = lines.subarray(start, end);
    at += head.copy(out, at);
    at = md5Into(line, out, at);
    out[at++] = TAB;
    at = writeCopyRow(line, out, at);
    out[at++] = NEWLINE;
    rows++;
    start = end + 1;
  }
  return { text: out.subarray(0, at), rows };
}

/**
 * Each row is copied where it lies in `data`, never the page joined first; a row spanning buffers is
 * hashed from its pieces (copyPiecesToLine), as the reader turns such a row into its line.
 */
function fromCopyRows(head: Buffer, data: readonly Uint8Array[]): { text: Buffer; rows: number } {
  const buffers = data.map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  let bytes = 0;
  let count = 1;
  for (const b of buffers) {
    bytes += b.length;
    for (let at = b.indexOf(NEWLINE); at !== -1; at = b.indexOf(NEWLINE, at + 1)) count++;
  }
  // The rows' bytes without the "\n"s between them, and what each row gets besides.
  const out = Buffer.allocUnsafe(bytes - (count - 1) + count * (head.length + ROW_EXTRA));
  let at = 0;
  let rows = 0;
  let pieces: Buffer[] = [];
  const put = () => {
    const line = pieces.length === 1 ? copyTextLineView(pieces[0] as Buffer) : copyPiecesToLine(pieces);
    at += head.copy(out, at);
    at = md5Into(line, out, at);
    out[at++] = TAB;
    for (const piece of pieces) at += piece.copy(out, at);
    out[at++] = NEWLINE;
    rows++;
    pieces = [];
  };
  for (const b of buffers) {
    let start = 0;
    for (let end = b.indexOf(NEWLINE); end !== -1; end = b.indexOf(NEWLINE, start)) {
      pieces.push(b.subarray(start, end));
      put();
      start = end + 1;
    }
    if (start < b.length) pieces.push(b.subarray(start));
  }
  // The page's last row, which no "\n" follows (an empty one when the page ends with a row of one empty
  // value after its last "\n").
  if (pieces.length === 0) pieces.push(Buffer.alloc(0));
  put();
  return { text: out.subarray(0, at), rows };
}
