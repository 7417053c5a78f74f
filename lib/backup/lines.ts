/**
 * Splits a stream of UTF-8 chunks into "\n"-separated lines in time linear in the bytes, whatever a line's
 * length: each chunk is searched once, and a line that spans chunks is kept as its pieces and joined once,
 * when its end arrives. (Prepending the unfinished line to every chunk and splitting again re-scans it per
 * chunk: quadratic, minutes and hundreds of MB for a row holding a 5 MB value.)
 *
 * Lines stay UTF-8 bytes: a "\n" byte never occurs inside a multi-byte character, and a Buffer is freed as
 * soon as the young generation is collected, where a decoded string of several MB goes straight to the old
 * generation and waits for a full collection — with 5 MB values, hundreds of MB of it.
 */
import { Transform } from "node:stream";

const NEWLINE = 0x0a;

export class LineSplitter {
  /** The unfinished line, as the pieces it arrived in (views of the chunks, not copies). */
  private pieces: Buffer[] = [];
  private piecesBytes = 0;

  constructor(
    /** What a line that lies in one chunk is answered as (by default that view of it, uncopied). */
    private readonly whole: (line: Buffer) => Buffer = (line) => line,
    /** What a line that spans chunks is answered as, made of its pieces (by default joined, once). */
    private readonly spanning: (pieces: Buffer[], bytes: number) => Buffer = (pieces, bytes) =>
      Buffer.concat(pieces, bytes),
  ) {}

  /** The lines that `chunk` completes, in order, without their "\n". */
  push(chunk: Buffer | Uint8Array): Buffer[] {
    const bytes = Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const lines: Buffer[] = [];
    let start = 0;
    let end = bytes.indexOf(NEWLINE);
    while (end !== -1) {
      const piece = bytes.subarray(start, end);
      if (this.pieces.length > 0) {
        this.pieces.push(piece);
        lines.push(this.spanning(this.pieces, this.piecesBytes + piece.length));
        this.pieces = [];
        this.piecesBytes = 0;
      } else {
        lines.push(this.whole(piece));
      }
      start = end + 1;
      end = bytes.indexOf(NEWLINE, start);
    }
    if (start < bytes.length) {
      this.pieces.push(bytes.subarray(start));
      this.piecesBytes += bytes.length - start;
    }
    return lines;
  }

  /** Ends the stream: answers what followed the last "\n" (empty when the text ended with one). */
  end(): Buffer {
    const last = Buffer.concat(this.pieces, this.piecesBytes);
    this.pieces = [];
    this.piecesBytes = 0;
    return last;
  }
}

/**
 * Rows as the text they make: `parts`, one after the other, are `rows` lines of `bytes` bytes in all; each
 * part is whole lines, each ending in "\n". A chunk of rows goes on as a few views of the memory the rows
 * arrived in, not an object per row: at a million rows those objects, and collecting them, cost a backup
 * about a tenth of its main thread's time.
 */
export interface RowsText {
  parts: Buffer[];
  rows: number;
  bytes: number;
}

/**
 * Cuts a stream of UTF-8 chunks into blocks of whole lines, each line with its "\n": the lines a chunk
 * holds whole go on as one view of it; a line that spans chunks is kept as its pieces and joined once, when
 * its end arrives (linear in the bytes, as LineSplitter is, whatever a line's length).
 */
export class WholeLines {
  private pieces: Buffer[] = [];
  private piecesBytes = 0;

  /** The blocks of whole lines that `chunk` completes, in order. */
  push(chunk: Buffer | Uint8Array): Buffer[] {
    const bytes = Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const last = bytes.lastIndexOf(NEWLINE);
    const blocks: Buffer[] = [];
    let start = 0;
    if (last !== -1 && this.pieces.length > 0) {
      start = bytes.indexOf(NEWLINE) + 1;
      this.pieces.push(bytes.subarray(0, start));
      blocks.push(Buffer.concat(this.pieces, this.piecesBytes + start));
      this.pieces = [];
      this.piecesBytes = 0;
    }
    if (last >= start) blocks.push(bytes.subarray(start, last + 1));
    const rest = last + 1;
    if (rest < bytes.length) {
      this.pieces.push(bytes.subarray(rest));
      this.piecesBytes += bytes.length - rest;
    }
    return blocks;
  }

  /** Bytes after the last "\n" so far: none when the stream has ended well. */
  get unfinished(): number {
    return this.piecesBytes;
  }
}

/** The lines of blocks of whole lines (as WholeLines and RowsText hold them), as views without their "\n". */
export function linesOf(parts: readonly Buffer[]): Buffer[] {
  const lines: Buffer[] = [];
  for (const part of parts) endedLines(part, lines);
  return lines;
}

/** The lines of `text` (separated by "\n", no trailing one) as views of it, without copying. */
export function splitLines(text: Buffer): Buffer[] {
  const lines: Buffer[] = [];
  if (text.length === 0) return lines;
  lines.push(text.subarray(endedLines(text, lines)));
  return lines;
}

/** Adds the lines of `text` that end in "\n" to `lines` (views, without it); answers where the rest starts. */
function endedLines(text: Buffer, lines: Buffer[]): number {
  let start = 0;
  let end = text.indexOf(NEWLINE);
  while (end !== -1) {
    lines.push(text.subarray(start, end));
    start = end + 1;
    end = text.indexOf(NEWLINE, start);
  }
  return start;
}

/** `lines` joined by "\n", with one after the last when `trailing`: one copy. */
export function joinLines(lines: readonly Buffer[], trailing: boolean): Buffer {
  let size = lines.length === 0 ? 0 : lines.length - 1 + (trailing ? 1 : 0);
  for (const line of lines) size += line.length;
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const [i, line] of lines.entries()) {
    if (i > 0) out[at++] = NEWLINE;
    at += line.copy(out, at);
  }
  if (trailing && lines.length > 0) out[at++] = NEWLINE;
  return out;
}

/** Pieces of text at least this long stay where they are in textParts; shorter ones are copied together. */
const PART_BYTES = 64 * 1024;

const NEWLINE_BYTE = Buffer.from("\n");

/**
 * The text of `lines` with "\n" after each, as a few parts to hash and compress one after the other,
 * copying as little as it can: lines that lie one after the other in the same memory with a "\n" between
 * them (as lib/backup/copy-text.ts writes them, and as lines split from one read are) are handed on as one
 * view of it; a long piece is left where it lies; short ones are packed together (a write per row would
 * cost a call each).
 */
export function textParts(lines: readonly Buffer[]): Buffer[] {
  const parts: Buffer[] = [];
  let pack: Buffer[] = [];
  let packed = 0;
  const flushPack = () => {
    if (pack.length > 0) parts.push(pack.length === 1 ? (pack[0] as Buffer) : Buffer.concat(pack, packed));
    pack = [];
    packed = 0;
  };
  const add = (piece: Buffer) => {
    if (piece.length >= PART_BYTES) {
      flushPack();
      parts.push(piece);
    } else {
      pack.push(piece);
      packed += piece.length;
      if (packed >= PART_BYTES) flushPack();
    }
  };
  /**
   * All of the memory the current run of lines lies in, to look at the bytes between and after them —
   * only when it is memory of its own: a small buffer lies in Node's shared pool (Buffer.poolSize), where
   * the byte after it may be a stray "\n" now and the first byte of another buffer by the time the parts
   * are read.
   */
  let whole: Uint8Array = new Uint8Array(0);
  let own = false;
  let first: Buffer | null = null;
  let runStart = 0;
  let runEnd = 0;
  const endRun = () => {
    if (first === null) return;
    const trailing = own && runEnd < whole.length && whole[runEnd] === NEWLINE;
    if (trailing) add(Buffer.from(whole.buffer, runStart, runEnd + 1 - runStart));
    else {
      add(
        runStart === first.byteOffset && runEnd === runStart + first.length
          ? first
          : Buffer.from(whole.buffer, runStart, runEnd - runStart),
      );
      add(NEWLINE_BYTE);
    }
  };
  for (const line of lines) {
    if (
      first !== null &&
      own &&
      line.buffer === whole.buffer &&
      line.byteOffset === runEnd + 1 &&
      whole[runEnd] === NEWLINE
    ) {
      runEnd += line.length + 1;
      continue;
    }
    endRun();
    if (line.buffer !== whole.buffer) {
      whole = new Uint8Array(line.buffer);
      own = whole.byteLength > Buffer.poolSize;
    }
    first = line;
    runStart = line.byteOffset;
    runEnd = runStart + line.length;
  }
  endRun();
  flushPack();
  return parts;
}

/** The text `views` hold one after the other, without its first `n` lines (views of the same bytes). */
export function dropLines(views: readonly Buffer[], n: number): Buffer[] {
  let left = n;
  for (const [i, view] of views.entries()) {
    let at = 0;
    while (left > 0) {
      const end = view.indexOf(NEWLINE, at);
      if (end === -1) break;
      left -= 1;
      at = end + 1;
    }
    if (left === 0) return [view.subarray(at), ...views.slice(i + 1)].filter((v) => v.length > 0);
  }
  return [];
}

/** A stream of "\n"-terminated lines without its first `n` lines; the rest passes on as it arrives. */
export function withoutFirstLines(n: number): Transform {
  let left = n;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      let at = 0;
      while (left > 0) {
        const end = chunk.indexOf(NEWLINE, at);
        if (end === -1) return done();
        left -= 1;
        at = end + 1;
      }
      done(null, at < chunk.length ? chunk.subarray(at) : undefined);
    },
  });
}
