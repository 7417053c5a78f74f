/**
 * Content-defined chunking over a table's row stream. A chunk ends after a row whose own hash falls under
 * a threshold proportional to the row's length, once the chunk holds `min` characters, or at `max`
 * whatever the hash says. The decision depends only on the rows themselves (never on page or file
 * boundaries, nor on where the table starts), so a row inserted, changed or deleted alters the chunk it
 * falls in and at most its neighbour: every other chunk is cut exactly as before and keeps its name.
 * Sizes are counted in UTF-16 code units of the JSON text, a stable proxy for bytes.
 */
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

/** FNV-1a over the row's text: cheap, and the same on every machine. */
function rowHash(line: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < line.length; i++) {
    h ^= line.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export class ChunkCutter {
  private lines: string[] = [];
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

  /** Adds rows (one line each, without "\n"); answers the chunks they finish. */
  push(lines: readonly string[]): string[][] {
    const done: string[][] = [];
    for (const line of lines) {
      this.lines.push(line);
      this.size += line.length + 1;
      if (this.size >= this.bounds.max || (this.size >= this.bounds.min && this.isBoundary(line))) {
        done.push(this.lines);
        this.lines = [];
        this.size = 0;
      }
    }
    return done;
  }

  /** The rows held, as a last chunk (the table ended); null when none are. */
  flush(): string[] | null {
    if (this.lines.length === 0) return null;
    const last = this.lines;
    this.lines = [];
    this.size = 0;
    return last;
  }

  private isBoundary(line: string): boolean {
    return rowHash(line) < (line.length + 1) * this.perChar;
  }
}
