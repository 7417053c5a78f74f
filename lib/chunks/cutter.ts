/**
 * Content-defined chunking over a table's row stream. A chunk ends after a row whose own hash falls under
 * a threshold proportional to the row's length, once the chunk holds `min` bytes, or at `max`
 * whatever the hash says. The decision depends only on the rows themselves (never on page or file
 * boundaries, nor on where the table starts), so a row inserted, changed or deleted alters the chunk it
 * falls in and at most its neighbour: every other chunk is cut exactly as before and keeps its name.
 * Rows arrive as their UTF-8 bytes (see lib/backup/lines.ts for why), in blocks of whole lines; sizes are
 * counted, and rows hashed, in those bytes. (Earlier versions counted and hashed the UTF-16 code units
 * they decode to, one unit at a time: several times slower. Chunks cut by that rule keep their names and
 * stay readable; the first backup after the change cuts a table anew and stores its chunks once more.)
 */
import type { RowsText } from "../backup/lines.ts";

export interface ChunkBounds {
  /** The mean chunk size aimed at, in bytes of row text (UTF-8) before compression. */
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

/**
 * A 32-bit hash of the row's bytes (those of `line` from `start` to `end`): FNV-1a over every fourth byte
 * in each of four lanes (so that the multiplications of neighbouring bytes need not wait on one another),
 * mixed into one by MurmurHash3's finaliser. Every byte counts, so rows that differ anywhere hash apart;
 * cheap, and the same everywhere.
 */
export function rowHash(line: Uint8Array, start = 0, end = line.length): number {
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  let c = 0x1b873593;
  let d = 0x2545f491;
  const n = end;
  let i = start;
  // Eight bytes a turn, two to each lane: the same hash as four a turn, in half the time (the loop's own
  // work, not the multiplications, was most of it).
  for (; i + 7 < n; i += 8) {
    a = Math.imul(a ^ (line[i] as number), 0x01000193);
    b = Math.imul(b ^ (line[i + 1] as number), 0x01000193);
    c = Math.imul(c ^ (line[i + 2] as number), 0x01000193);
    d = Math.imul(d ^ (line[i + 3] as number), 0x01000193);
    a = Math.imul(a ^ (line[i + 4] as number), 0x01000193);
    b = Math.imul(b ^ (line[i + 5] as number), 0x01000193);
    c = Math.imul(c ^ (line[i + 6] as number), 0x01000193);
    d = Math.imul(d ^ (line[i + 7] as number), 0x01000193);
  }
  if (i + 3 < n) {
    a = Math.imul(a ^ (line[i] as number), 0x01000193);
    b = Math.imul(b ^ (line[i + 1] as number), 0x01000193);
    c = Math.imul(c ^ (line[i + 2] as number), 0x01000193);
    d = Math.imul(d ^ (line[i + 3] as number), 0x01000193);
    i += 4;
  }
  for (; i < n; i++) a = Math.imul(a ^ (line[i] as number), 0x01000193);
  let h = a ^ ((b << 8) | (b >>> 24)) ^ ((c << 16) | (c >>> 16)) ^ ((d << 24) | (d >>> 8));
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const NEWLINE = 0x0a;

export class ChunkCutter {
  /** The rows held that belong to no finished chunk yet, as whole-line views of the text they came in. */
  private parts: Buffer[] = [];
  private rows = 0;
  private size = 0;
  /** A row of `length` bytes (with its "\n") ends a chunk with probability length / (target - min). */
  private readonly perByte: number;

  constructor(private readonly bounds: ChunkBounds) {
    this.perByte = 2 ** 32 / Math.max(1, bounds.target - bounds.min);
  }

  /**
   * Adds rows, as blocks of whole lines of UTF-8 (each line ending in "\n"); answers the chunks they
   * finish. A chunk's parts are views of those blocks.
   */
  push(text: readonly Buffer[]): RowsText[] {
    const done: RowsText[] = [];
    const { min, max } = this.bounds;
    for (const block of text) {
      let from = 0;
      let start = 0;
      while (start < block.length) {
        const end = block.indexOf(NEWLINE, start);
        if (end === -1) throw new Error("a block of rows ends inside a row");
        const length = end + 1 - start;
        this.size += length;
        this.rows += 1;
        const cut =
          this.size >= max || (this.size >= min && rowHash(block, start, end) < length * this.perByte);
        start = end + 1;
        if (cut) {
          this.parts.push(block.subarray(from, start));
          done.push({ parts: this.parts, rows: this.rows, bytes: this.size });
          this.parts = [];
          this.rows = 0;
          this.size = 0;
          from = start;
        }
      }
      if (from < block.length) this.parts.push(from === 0 ? block : block.subarray(from));
    }
    return done;
  }

  /** The rows held, as a last chunk (the table ended); null when none are. */
  flush(): RowsText | null {
    if (this.rows === 0) return null;
    const last = { parts: this.parts, rows: this.rows, bytes: this.size };
    this.parts = [];
    this.rows = 0;
    this.size = 0;
    return last;
  }
}
