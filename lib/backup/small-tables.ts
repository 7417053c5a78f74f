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
import type { RowsText } from "./lines.ts";
import type { ManifestFile } from "./manifest.ts";

export interface StoredSmallTables {
  /** Each waiting table's manifest entry, by table name. */
  entries: Map<string, ManifestFile>;
  /** Bytes uploaded: 0 when the shared chunk was already stored. */
  written: number;
}

export class SmallTables {
  private readonly waiting: { table: string; text: RowsText }[] = [];
  private bytes = 0;

  /** `room`: the most text (bytes, newlines included) the shared chunk may hold. */
  constructor(private readonly room: number) {}

  /** Tables waiting to be stored. */
  get size(): number {
    return this.waiting.length;
  }

  /**
   * Takes the table's whole text when it is below `small` and fits the room left; answers whether it did.
   * A table it declines is stored as its own chunk, as a large one is.
   */
  offer(table: string, text: RowsText, small: number): boolean {
    if (text.rows === 0 || text.bytes >= small || this.bytes + text.bytes > this.room) return false;
    this.waiting.push({ table, text });
    this.bytes += text.bytes;
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
      {
        parts: this.waiting.flatMap((w) => w.text.parts),
        rows: this.waiting.reduce((n, w) => n + w.text.rows, 0),
        bytes: this.bytes,
      },
      0,
    );
    const of = stored.file.rows;
    let first = 0;
    for (const { table, text } of this.waiting) {
      const rows = text.rows;
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
