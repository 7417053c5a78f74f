/**
 * Content-defined chunking over a table's row stream. A chunk ends after a row whose own hash falls under
 * a threshold proportional to the row's length, once the chunk holds `min` characters, or at `max`
 * whatever the hash says. The decision depends only on the rows themselves (never on page or file
 * boundaries, nor on where the table starts), so a row inserted, changed or deleted alters the chunk it
 * falls in and at most its neighbour: every other chunk is cut exactly as before and keeps its name.
 * Sizes are counted in UTF-16 code units of the JSON text, a stable proxy for bytes. Rows arrive as their
 * UTF-8 bytes (see lib/backup/lines.ts for why); size and hash are taken over the UTF-16 code units those
 * bytes decode to, so chunks are cut exactly where they were when rows were strings, and keep their names.
 */
import { isAscii } from "node:buffer";

export interface ChunkBounds {
  /** The mean chunk size aimed at, in characters of row text before compression. */
  target: number;
  min: number;
  max: number;
}

/**
 * A quarter to four times the target, and never over `maxBytes` (BACKUP_MAX_FILE_BYTES): the text bounds
 * its compressed object, so a chunk always fits the storage's object limit.
 */
export function chunkBounds(target: number, maxBytes: number): ChunkBounds {
  const max = Math.max(1, Math.min(target * 4, maxBytes));
  return { target, min: Math.min(Math.floor(target / 4), Math.floor(max / 4)), max };
}

/** The row's length in UTF-16 code units, from its UTF-8 bytes. */
function unitsOf(line: Buffer): number {
  if (isAscii(line)) return line.length;
  let units = 0;
  for (let i = 0; i < line.length; i++) {
    const b = line[i] as number;
    // A character's first byte counts one unit (two from U+10000 on, a surrogate pair); continuations none.
    if (b < 0x80 || b >= 0xc0) units += b >= 0xf0 ? 2 : 1;
  }
  return units;
}

/**
 * FNV-1a over the row's UTF-16 code units, decoded from its UTF-8 bytes on the way: cheap, and the same
 * on every machine.
 */
function rowHash(line: Buffer): number {
  let h = 0x811c9dc5;
  const unit = (u: number) => {
    h ^= u;
    h = Math.imul(h, 0x01000193);
  };
  for (let i = 0; i < line.length; ) {
    const b = line[i] as number;
    if (b < 0x80) {
      unit(b);
      i += 1;
    } else if (b < 0xe0) {
      unit(((b & 0x1f) << 6) | ((line[i + 1] as number) & 0x3f));
      i += 2;
    } else if (b < 0xf0) {
      unit(((b & 0x0f) << 12) | (((line[i + 1] as number) & 0x3f) << 6) | ((line[i + 2] as number) & 0x3f));
      i += 3;
    } else {
      const cp =
        (((b & 0x07) << 18) |
          (((line[i + 1] as number) & 0x3f) << 12) |
          (((line[i + 2] as number) & 0x3f) << 6) |
          ((line[i + 3] as number) & 0x3f)) -
        0x10000;
      unit(0xd800 + (cp >> 10));
      unit(0xdc00 + (cp & 0x3ff));
      i += 4;
    }
  }
  return h >>> 0;
}

export class ChunkCutter {
  private lines: Buffer[] = [];
  private size = 0;
  /** A row of `length` characters ends a chunk with probability length / (target - min). */
  private readonly perChar: number;

  constructor(private readonly bounds: ChunkBounds) {
    this.perChar = 2 ** 32 / Math.max(1, bounds.target - bounds.min);
  }

  /** Rows held that belong to no finished chunk yet. */
  get pendingRows(): number {
    return this.lines.length;
  }

  /** Adds rows (one line of UTF-8 each, without its "\n"); answers the chunks they finish. */
  push(rows: readonly Buffer[]): Buffer[][] {
    const done: Buffer[][] = [];
    for (const line of rows) {
      const units = unitsOf(line);
      this.lines.push(line);
      this.size += units + 1;
      if (this.size >= this.bounds.max || (this.size >= this.bounds.min && this.isBoundary(line, units))) {
        done.push(this.lines);
        this.lines = [];
        this.size = 0;
      }
    }
    return done;
  }

  /** The rows held, as a last chunk (the table ended); null when none are. */
  flush(): Buffer[] | null {
    if (this.lines.length === 0) return null;
    const last = this.lines;
    this.lines = [];
    this.size = 0;
    return last;
  }

  private isBoundary(line: Buffer, units: number): boolean {
    return rowHash(line) < (units + 1) * this.perChar;
  }
}
