/**
 * Where a table's rows come from during a backup, page by page, always at the run's one moment: on a
 * direct connection, the first call streams the live tables through COPY inside one held snapshot
 * (HeldSnapshot); otherwise, and in every later call, the run's copy of the tenant (tenant_backup_snapshot,
 * taken at one moment for every table) is read — in pages through PostgREST (tenant_backup_snapshot_page),
 * or streamed through COPY on a direct connection, cut into pages by the same rule. Either way a page is at
 * most `limit` rows, and ends with the first row whose text starts at or after `maxBytes` — at least one
 * row. A page's last_key is the number of its last row in export order: in the copy that is the row's
 * number, which is where the next page, or a resumed run, starts. An undo point a restore's apply captured
 * (tenant_backup_undo) is read the same two ways: streamed on a direct connection, else a stored page per
 * call; its pages' last_key is the key of their last row.
 */
import { type CatalogTable, storedColumns } from "../catalog.ts";
import type { HeldSnapshot } from "../db/port.ts";
import type { ExportPage, LiveQueries, TenantDb } from "../db/tenant-db.ts";
import { copyTextToLine } from "./copy-text.ts";
import { lineToCopyText } from "./line-to-copy-text.ts";
import { joinLines, LineSplitter, linesOf, type RowsText, splitLines, WholeLines } from "./lines.ts";

/**
 * A page of rows as the backup takes them: their UTF-8 bytes (see lib/backup/lines.ts for why), each row
 * written as the source was asked for (SourceArgs.rowsAs), as blocks of whole lines.
 */
export interface SourcePage extends Pick<ExportPage, "last_key" | "done"> {
  text: RowsText;
}

/**
 * How a row is written: "copy", as COPY's text format writes it (what the live tables stream, and what
 * chunks hold); "line", as the JSON array of its values' texts (what the run's copy and an undo point hold,
 * what PostgREST answers, and what table files of format 1 hold). Either is made from the other exactly.
 */
export type RowText = "copy" | "line";

export interface RowSource {
  next(maxBytes: number): Promise<SourcePage>;
  /** Stops reading; a stream is cancelled. */
  close(): void;
}

interface SourceArgs {
  backupId: string;
  rowsAs: RowText;
  table: string;
  /** The last_key of the last page read, or null at the table's start. */
  after: string[] | null;
  limit: number;
  /** Read the live table at this held moment instead of the run's copy (from its start only). */
  live?: { queries: LiveQueries; snapshot: HeldSnapshot };
  /**
   * Read the rows a restore's apply captured as this undo point (tenant_backup_undo) instead of the
   * tenant's tables; `rowsDone` (rows already read by a resumed run) says where to start.
   */
  capture?: { id: string; table: CatalogTable; rowsDone: number };
}

export async function openRowSource(db: TenantDb, args: SourceArgs): Promise<RowSource> {
  // Every source but the live tables gives lines: made COPY rows here when asked for.
  const fromLines = args.rowsAs === "copy" ? lineToCopyText : undefined;
  if (args.capture) {
    // Direct: streamed through COPY; through PostgREST, one stored page per call. Keyed by their lines.
    if (!db.canStream) return converted(await capturedSource(db, args.capture), fromLines);
    const { id, table, rowsDone } = args.capture;
    return converted(
      keyedByColumns(
        await streamedSource(await db.undoStream(id, table.name, rowsDone), args, rowsDone),
        table,
      ),
      fromLines,
    );
  }
  const after = args.after ? Number(args.after[0]) : 0;
  if (!Number.isSafeInteger(after) || after < 0) throw new Error(`bad resume point for ${args.table}`);
  if (args.live) {
    if (after !== 0) throw new Error(`a live read of ${args.table} starts at its first row`);
    const { queries, snapshot } = args.live;
    const stream = await db.liveStream({ queries, table: args.table, snapshot });
    return streamedSource(stream, args, 0, args.rowsAs === "line" ? copyTextToLine : undefined);
  }
  if (db.canStream) {
    const stream = await db.snapshotStream({ backupId: args.backupId, table: args.table, after });
    return streamedSource(stream, args, after, fromLines);
  }
  return converted(pagedSource(db, args, after), fromLines);
}

/** Rows, one line each without its "\n", as their text: one block, copied once. */
function textOf(lines: Buffer[]): RowsText {
  const parts = lines.length === 0 ? [] : [joinLines(lines, true)];
  return { parts, rows: lines.length, bytes: parts[0]?.length ?? 0 };
}

/** The source's pages with each row turned by `convert` (none: as they are). */
function converted(source: RowSource, convert: ((row: Buffer) => Buffer) | undefined): RowSource {
  if (!convert) return source;
  return {
    async next(maxBytes) {
      const page = await source.next(maxBytes);
      const lines = linesOf(page.text.parts).map(convert);
      return { ...page, text: textOf(lines) };
    },
    close: () => source.close(),
  };
}

const NEWLINE = 0x0a;

/** The last line of blocks of whole lines, without its "\n"; null when there is none. */
function lastLine(parts: readonly Buffer[]): Buffer | null {
  const block = parts.at(-1);
  if (!block) return null;
  return block.subarray(block.lastIndexOf(NEWLINE, block.length - 2) + 1, block.length - 1);
}

/** A page the Supabase API answered: its lines, with a "\n" after the last, are one block. */
function pageOf({ data, rows, last_key, done }: ExportPage): SourcePage {
  const parts = rows === 0 ? [] : [Buffer.from(`${data}\n`)];
  return { last_key, done, text: { parts, rows, bytes: parts[0]?.length ?? 0 } };
}

function pagedSource(db: TenantDb, args: SourceArgs, start: number): RowSource {
  let after = start;
  return {
    async next(maxBytes) {
      const page = await db.snapshotPage({
        backupId: args.backupId,
        table: args.table,
        after,
        limit: args.limit,
        maxBytes,
      });
      after += page.rows;
      return pageOf(page);
    },
    close() {},
  };
}

/**
 * Pages cut from a stream of rows, one a line of the stream; `convert` turns a streamed row into the row
 * asked for (a live table is streamed as COPY text rows, the run's copy as lines). Rows taken as streamed
 * stay in the blocks they came in (see WholeLines); converted rows are made one by one.
 */
async function streamedSource(
  stream: NodeJS.ReadableStream,
  args: SourceArgs,
  start: number,
  convert?: (row: Buffer) => Buffer,
): Promise<RowSource> {
  // Rows are numbered 1, 2, … without gaps in the copy: the last row's number is a count.
  let read = start;
  const rows = convert ? convertedRows(stream, args.table, convert) : streamedRows(stream, args.table);
  return {
    async next(maxBytes) {
      const { text, ended } = await rows.take(args.limit, maxBytes);
      // Done as the paged read would say it: fewer rows than the limit, and nothing left after them.
      const done = text.rows < args.limit && ended;
      read += text.rows;
      return { text, last_key: text.rows > 0 ? [String(read)] : null, done };
    },
    close: () => rows.close(),
  };
}

interface StreamRows {
  /**
   * Up to `limit` rows, ending with the first whose text starts at or after `maxBytes` (at least one row
   * unless none is left); `ended` once nothing is left after them.
   */
  take(limit: number, maxBytes: number): Promise<{ text: RowsText; ended: boolean }>;
  close(): void;
}

/** What `split` makes of a stream's chunks, handed out in order, the stream read only as they are needed. */
class Pending<T> {
  private readonly chunks: AsyncIterator<Buffer>;
  /** Items handed out are dropped from here, so that one holding MBs is not kept until the next read. */
  private items: (T | undefined)[] = [];
  /** The next item to hand out (shifting a long array per item would be quadratic). */
  private at = 0;
  private ended = false;

  constructor(
    private readonly stream: NodeJS.ReadableStream,
    private readonly split: { push(chunk: Buffer): T[]; atEnd(): void },
  ) {
    this.chunks = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  /** The next item, read from the stream when none is left; undefined once the stream has ended. */
  async peek(): Promise<T | undefined> {
    while (this.at === this.items.length && !this.ended) {
      const { value, done } = await this.chunks.next();
      if (done) {
        this.ended = true;
        this.split.atEnd();
      } else {
        this.items = this.split.push(value);
        this.at = 0;
      }
    }
    return this.items[this.at];
  }

  /** Hands out the next item, or leaves `rest` of it in its place. */
  take(rest?: T): void {
    this.items[this.at] = rest;
    if (rest === undefined) this.at += 1;
  }

  /** True once the stream has ended and every item was handed out. */
  get drained(): boolean {
    return this.ended && this.at === this.items.length;
  }

  close(): void {
    if (!this.ended) (this.stream as unknown as { destroy(): void }).destroy();
  }
}

/** A stream's rows as they come, in blocks of whole lines, never an object per row. */
function streamedRows(stream: NodeJS.ReadableStream, table: string): StreamRows {
  const whole = new WholeLines();
  const blocks = new Pending(stream, {
    push: (chunk) => whole.push(chunk),
    atEnd: () => {
      if (whole.unfinished !== 0) throw new Error(`export of ${table} ended inside a line`);
    },
  });
  return {
    async take(limit, maxBytes) {
      const parts: Buffer[] = [];
      let rows = 0;
      let bytes = 0;
      while (rows < limit && (rows === 0 || bytes < maxBytes)) {
        const block = await blocks.peek();
        if (block === undefined) break;
        let end = 0;
        while (end < block.length && rows < limit && (rows === 0 || bytes < maxBytes)) {
          const next = block.indexOf(NEWLINE, end) + 1;
          bytes += next - end;
          rows += 1;
          end = next;
        }
        if (end === block.length) {
          parts.push(block);
          blocks.take();
        } else {
          parts.push(block.subarray(0, end));
          blocks.take(block.subarray(end));
        }
      }
      if (rows < limit) await blocks.peek();
      return { text: { parts, rows, bytes }, ended: blocks.drained };
    },
    close: () => blocks.close(),
  };
}

/** A stream's rows, each turned by `convert` as it is taken (pages are bounded by the rows converted). */
function convertedRows(
  stream: NodeJS.ReadableStream,
  table: string,
  convert: (row: Buffer) => Buffer,
): StreamRows {
  const splitter = new LineSplitter();
  const lines = new Pending(stream, {
    push: (chunk) => splitter.push(chunk),
    atEnd: () => {
      if (splitter.end().length !== 0) throw new Error(`export of ${table} ended inside a line`);
    },
  });
  return {
    async take(limit, maxBytes) {
      const taken: Buffer[] = [];
      let bytes = 0;
      while (taken.length < limit && (taken.length === 0 || bytes < maxBytes)) {
        const row = await lines.peek();
        if (row === undefined) break;
        lines.take();
        const line = convert(row);
        taken.push(line);
        bytes += line.length + 1;
      }
      if (taken.length < limit) await lines.peek();
      return { text: textOf(taken), ended: lines.drained };
    },
    close: () => lines.close(),
  };
}

/**
 * The key of a table's row (its primary key's values, null without one) from its line, its key columns
 * parsed alone (the others may hold MBs).
 */
function keyOfLine(table: CatalogTable): (line: Buffer) => string[] | null {
  const names = storedColumns(table).map((c) => c.name);
  const keyAt = (table.primary_key ?? []).map((k) => names.indexOf(k));
  return (line) => (keyAt.length === 0 ? null : keyAt.map((i) => elementAt(line, i) as string));
}

/** A streamed undo point's pages, each with the key of its last row as last_key, as capturedSource has. */
function keyedByColumns(source: RowSource, table: CatalogTable): RowSource {
  const keyOf = keyOfLine(table);
  return {
    async next(maxBytes) {
      const page = await source.next(maxBytes);
      const last = lastLine(page.text.parts);
      return { ...page, last_key: last === null ? null : keyOf(last) };
    },
    close: () => source.close(),
  };
}

/**
 * The table's rows as a restore's apply captured them (tenant_backup_undo): on a direct connection
 * streamed like the tables, otherwise one stored page per call, found by the rows read before it (pages
 * are bounded by rows and bytes, so not all of one size). A page's last_key is its last row's key.
 */
async function capturedSource(db: TenantDb, capture: NonNullable<SourceArgs["capture"]>): Promise<RowSource> {
  const keyOf = keyOfLine(capture.table);
  let after = capture.rowsDone;
  return {
    async next() {
      const stored = await db.undoRead(capture.id, capture.table.name, after);
      let lines = stored.rows > 0 ? splitLines(Buffer.from(stored.lines)) : [];
      // A resumed run's chunks may end inside a stored page: its first rows are already stored.
      const skip = after - stored.first;
      if (skip > 0) lines = lines.slice(skip);
      after += lines.length;
      const last = lines.at(-1);
      return {
        text: textOf(lines),
        last_key: last === undefined ? null : keyOf(last),
        done: stored.done,
      };
    },
    close() {},
  };
}

/**
 * Element `index` of a line (a JSON array of strings and nulls), parsed alone: a row's key without
 * decoding its other columns, which may hold MBs.
 */
export function elementAt(line: Buffer, index: number): string | null {
  // Past "[": elements are separated by "," outside strings; inside one, "\\" escapes the next byte.
  let start = 1;
  let element = 0;
  let inString = false;
  for (let i = 1; i < line.length; i++) {
    const b = line[i];
    if (inString) {
      if (b === 0x5c) i += 1;
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) {
      inString = true;
    } else if (b === 0x2c || b === 0x5d) {
      if (element === index) return JSON.parse(line.toString("utf8", start, i)) as string | null;
      element += 1;
      start = i + 1;
    }
  }
  throw new Error(`row has no column ${index}`);
}
