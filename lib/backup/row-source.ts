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
import { LineSplitter, splitLines } from "./lines.ts";

/**
 * A page of rows as the backup takes them, one by one, as their UTF-8 bytes without the "\n" (see
 * lib/backup/lines.ts for why), each written as the source was asked for (SourceArgs.rowsAs).
 */
export interface SourcePage extends Omit<ExportPage, "data"> {
  lines: Buffer[];
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

/** Bytes of `lines` joined by "\n". */
const joinedBytes = (lines: Buffer[]) =>
  lines.reduce((n, l) => n + l.length + 1, 0) - (lines.length > 0 ? 1 : 0);

/** The source's pages with each row turned by `convert` (none: as they are). */
function converted(source: RowSource, convert: ((row: Buffer) => Buffer) | undefined): RowSource {
  if (!convert) return source;
  return {
    async next(maxBytes) {
      const page = await source.next(maxBytes);
      const lines = page.lines.map(convert);
      return { ...page, lines, bytes: joinedBytes(lines) };
    },
    close: () => source.close(),
  };
}

const EMPTY = Buffer.alloc(0);

function pageOf({ data, ...page }: ExportPage): SourcePage {
  return { ...page, lines: page.rows === 0 ? [] : splitLines(Buffer.from(data)) };
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
 * asked for (a live table is streamed as COPY text rows, the run's copy as lines).
 */
async function streamedSource(
  stream: NodeJS.ReadableStream,
  args: SourceArgs,
  start: number,
  convert: (row: Buffer) => Buffer = (row) => row,
): Promise<RowSource> {
  // Rows are numbered 1, 2, … without gaps in the copy: the last row's number is a count.
  let read = start;
  const chunks = stream[Symbol.asyncIterator]();
  const splitter = new LineSplitter();
  let pending: Buffer[] = [];
  /** The next line of `pending` to hand out (shifting a long array per line would be quadratic). */
  let at = 0;
  let ended = false;

  /** Makes at least one complete line available, unless the stream has ended. */
  async function fill(): Promise<void> {
    while (at === pending.length && !ended) {
      const { value, done } = await chunks.next();
      if (done) {
        ended = true;
        if (splitter.end().length !== 0) throw new Error(`export of ${args.table} ended inside a line`);
        return;
      }
      pending = splitter.push(value as Buffer);
      at = 0;
    }
  }

  return {
    async next(maxBytes) {
      const taken: Buffer[] = [];
      let bytes = 0;
      while (taken.length < args.limit && (taken.length === 0 || bytes < maxBytes)) {
        await fill();
        if (at === pending.length) break;
        const line = convert(pending[at] as Buffer);
        // Converted: the row as streamed (MBs, with large values) need not wait for the next fill.
        if (line !== pending[at]) pending[at] = EMPTY;
        at += 1;
        taken.push(line);
        bytes += line.length + 1;
      }
      // Done as the paged read would say it: fewer rows than the limit, and nothing left after them.
      if (taken.length < args.limit) await fill();
      const done = taken.length < args.limit && at === pending.length && ended;
      read += taken.length;
      return {
        rows: taken.length,
        bytes,
        lines: taken,
        last_key: taken.length > 0 ? [String(read)] : null,
        done,
      };
    },
    close() {
      if (!ended) (stream as unknown as { destroy(): void }).destroy();
    },
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
      const last = page.lines.at(-1) ?? null;
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
        rows: lines.length,
        bytes: joinedBytes(lines),
        lines,
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
