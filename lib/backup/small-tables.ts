/**
 * A tenant's small tables stored together: each table whose whole text is one small chunk (under the
 * cutter's `min`, so that no content-defined cut could fall inside it) waits here instead of being stored
 * as a chunk of its own, and once the tables are read they are stored as one chunk, their texts one after
 * the other in the catalog's order. Like any chunk it is named by its text, so an unchanged small tenant
 * stores nothing new the next night; each table's manifest entry names it with the table's slice of its
 * lines. A small tenant then costs one object for its rows instead of one per table.
 *
 * A table waiting here is not done: the run's saved progress names it only once the shared chunk is
 * stored, so a call that stops before then reads it again (lib/backup/tenant-backup.ts).
 */
import type { ChunkStore } from "../chunks/store.ts";
import type { ManifestFile } from "./manifest.ts";

export interface StoredSmallTables {
  /** Each waiting table's manifest entry, by table name. */
  entries: Map<string, ManifestFile>;
  /** Bytes uploaded: 0 when the shared chunk was already stored. */
  written: number;
}

export class SmallTables {
  private readonly waiting: { table: string; lines: Buffer[] }[] = [];
  private bytes = 0;

  /** `room`: the most text (bytes, newlines included) the shared chunk may hold. */
  constructor(private readonly room: number) {}

  /** Tables waiting to be stored. */
  get size(): number {
    return this.waiting.length;
  }

  /**
   * Takes the table's whole text (its rows, one line each) when it is below `small` and fits the room
   * left; answers whether it did. A table it declines is stored as its own chunk, as a large one is.
   */
  offer(table: string, lines: Buffer[], small: number): boolean {
    if (lines.length === 0) return false;
    const bytes = lines.reduce((n, l) => n + l.length + 1, 0);
    if (bytes >= small || this.bytes + bytes > this.room) return false;
    this.waiting.push({ table, lines });
    this.bytes += bytes;
    return true;
  }

  /**
   * Stores the waiting tables as one chunk and answers their entries (nothing to store: none). A single
   * table's entry is the plain chunk entry, without a slice: its chunk is the table's whole text, exactly
   * the chunk it would have had alone.
   */
  async store(chunks: ChunkStore): Promise<StoredSmallTables> {
    const entries = new Map<string, ManifestFile>();
    if (this.waiting.length === 0) return { entries, written: 0 };
    const stored = await chunks.store(
      this.waiting.flatMap((w) => w.lines),
      0,
    );
    const of = stored.file.rows;
    let first = 0;
    for (const { table, lines } of this.waiting) {
      const rows = lines.length;
      entries.set(table, {
        ...stored.file,
        rows,
        last_key: [String(rows)],
        ...(this.waiting.length > 1 ? { slice: { first, of } } : {}),
      });
      first += rows;
    }
    this.waiting.length = 0;
    this.bytes = 0;
    return { entries, written: stored.written };
  }
}
