/**
 * Which tables wait to share a chunk: a table only when its whole text is under the small bound, and only
 * while the shared chunk has room for it; an empty table has no chunk to share.
 */
import { describe, expect, it } from "vitest";
import type { RowsText } from "../../lib/backup/lines.ts";
import { SmallTables } from "../../lib/backup/small-tables.ts";

/** `n` lines of `width` bytes each: `n * (width + 1)` bytes of text with their newlines. */
const lines = (n: number, width: number): RowsText => {
  const text = Buffer.from(`${"a".repeat(width)}\n`.repeat(n));
  return { parts: n === 0 ? [] : [text], rows: n, bytes: text.length };
};

describe("small tables waiting for their shared chunk", () => {
  it("takes a table under the small bound while the room allows, and declines the rest", () => {
    const small = new SmallTables(1000);
    expect(small.offer("empty", lines(0, 10), 500)).toBe(false);
    // 500 bytes of text is not under a bound of 500.
    expect(small.offer("at-bound", lines(5, 99), 500)).toBe(false);
    expect(small.offer("a", lines(4, 99), 500)).toBe(true);
    expect(small.offer("b", lines(4, 99), 500)).toBe(true);
    // 800 taken: 400 more would pass the room of 1000; 200 fits it exactly.
    expect(small.offer("c", lines(4, 99), 500)).toBe(false);
    expect(small.offer("d", lines(2, 99), 500)).toBe(true);
    expect(small.size).toBe(3);
  });
});
