/**
 * A staged page of backup lines as the rows COPY writes into a table's typed staging table
 * (tenant_backup_stage_typed_open): each row is the page's number, the md5 of the line as the backup
 * stores it (which the apply matches against the md5 of each of the tenant's rows exported as a line, so
 * an unchanged row is found without rebuilding its line), then the line's values (line-to-copy-text.ts).
 */
import { createHash } from "node:crypto";
import { writeCopyRow } from "./line-to-copy-text.ts";

const NEWLINE = 0x0a;
const TAB = 0x09;

/**
 * The COPY text of page `page`, whose lines are the bytes of `data` one after the other, "\n" between
 * lines (a line may span buffers). Answers the text and how many rows it holds.
 */
export function typedStageRows(page: number, data: readonly Uint8Array[]): { text: Buffer; rows: number } {
  // One buffer is read where it lies (Buffer.from of a Uint8Array would copy the page); several are joined.
  const one = data[0] as Uint8Array;
  const lines =
    data.length === 1 ? Buffer.from(one.buffer, one.byteOffset, one.byteLength) : Buffer.concat(data);
  const head = Buffer.from(`${page}\t`);
  // Per line: the page, a tab, 32 hex digits, a tab, the row (never longer than its line), a "\n".
  let count = 1;
  for (let at = lines.indexOf(NEWLINE); at !== -1; at = lines.indexOf(NEWLINE, at + 1)) count++;
  const out = Buffer.allocUnsafe(lines.length + count * (head.length + 34));
  let at = 0;
  let rows = 0;
  for (let start = 0; start <= lines.length; ) {
    let end = lines.indexOf(NEWLINE, start);
    if (end === -1) end = lines.length;
    const line = lines.subarray(start, end);
    at += head.copy(out, at);
    at += out.write(createHash("md5").update(line).digest("hex"), at, "latin1");
    out[at++] = TAB;
    at = writeCopyRow(line, out, at);
    out[at++] = NEWLINE;
    rows++;
    start = end + 1;
  }
  return { text: out.subarray(0, at), rows };
}
