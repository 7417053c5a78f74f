/**
 * LineSplitter: the lines of a stream whatever the chunk boundaries — inside a line, between "\n"s,
 * inside a multi-byte character — and a line much longer than any chunk arrives whole, as its bytes.
 */
import { describe, expect, it } from "vitest";
import {
  dropLines,
  joinLines,
  LineSplitter,
  linesOf,
  textParts,
  WholeLines,
} from "../../lib/backup/lines.ts";

/** Every line `text` holds, fed in chunks of `size` bytes, plus what followed the last "\n". */
function splitInChunks(text: string, size: number): { lines: string[]; rest: string } {
  const bytes = Buffer.from(text, "utf8");
  const splitter = new LineSplitter();
  const lines: string[] = [];
  for (let at = 0; at < bytes.length; at += size) {
    for (const line of splitter.push(bytes.subarray(at, at + size))) lines.push(line.toString("utf8"));
  }
  return { lines, rest: splitter.end().toString("utf8") };
}

describe("LineSplitter", () => {
  const text = 'a\n\nbé€𝄞c\n["x","\\n"]\nlast';
  const expected = text.split("\n");

  it.each([1, 2, 3, 5, 7, 64])("answers the same lines for chunks of %i bytes", (size) => {
    const { lines, rest } = splitInChunks(text, size);
    expect(lines).toEqual(expected.slice(0, -1));
    expect(rest).toBe("last");
  });

  it("answers an empty rest when the text ends with a newline, and nothing for an empty stream", () => {
    expect(splitInChunks("x\ny\n", 3)).toEqual({ lines: ["x", "y"], rest: "" });
    expect(new LineSplitter().end().length).toBe(0);
  });

  it("joins a 5 MB line that arrives in 16 KB chunks, and the lines around it", () => {
    const long = `["${"é0123456789".repeat(500_000)}"]`;
    const { lines, rest } = splitInChunks(`first\n${long}\nnext\n`, 16 * 1024);
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe("first");
    expect(lines[1] === long).toBe(true);
    expect(lines[2]).toBe("next");
    expect(rest).toBe("");
  });
});

/** The blocks of whole lines `text` makes, fed to WholeLines in chunks of `size` bytes. */
function blocksInChunks(text: Buffer, size: number): { blocks: Buffer[]; unfinished: number } {
  const whole = new WholeLines();
  const blocks: Buffer[] = [];
  for (let at = 0; at < text.length; at += size) blocks.push(...whole.push(text.subarray(at, at + size)));
  return { blocks, unfinished: whole.unfinished };
}

describe("WholeLines", () => {
  const text = Buffer.from('a\n\nbé€𝄞c\n["x","\\n"]\nlast');

  it.each([1, 2, 3, 5, 7, 64])("answers blocks of whole lines for chunks of %i bytes", (size) => {
    const { blocks, unfinished } = blocksInChunks(text, size);
    for (const block of blocks) expect(block.at(-1)).toBe(0x0a);
    expect(Buffer.concat(blocks).toString("utf8")).toBe('a\n\nbé€𝄞c\n["x","\\n"]\n');
    expect(linesOf(blocks).map((l) => l.toString("utf8"))).toEqual(["a", "", "bé€𝄞c", '["x","\\n"]']);
    expect(unfinished).toBe(4);
  });

  it("hands a chunk's whole lines on as one view of it, not a copy", () => {
    const chunk = Buffer.from("one\ntwo\nthr");
    const [block] = new WholeLines().push(chunk);
    expect(block?.toString("utf8")).toBe("one\ntwo\n");
    expect(block?.buffer).toBe(chunk.buffer);
  });

  it("joins a 5 MB line that arrives in 16 KB chunks once, with the lines around it", () => {
    const long = `["${"é0123456789".repeat(500_000)}"]`;
    const { blocks, unfinished } = blocksInChunks(Buffer.from(`first\n${long}\nnext\n`), 16 * 1024);
    const lines = linesOf(blocks).map((l) => l.toString("utf8"));
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe("first");
    expect(lines[1] === long).toBe(true);
    expect(lines[2]).toBe("next");
    expect(unfinished).toBe(0);
  });
});

describe("textParts", () => {
  it("hands a long row on as it lies, and packs short rows into parts of about 64 KB", () => {
    const long = Buffer.from(`["${"é".repeat(3_000_000)}"]`);
    const short = Array.from({ length: 2000 }, (_, i) =>
      Buffer.from(JSON.stringify([String(i), "x".repeat(i % 90)])),
    );
    const lines = [...short.slice(0, 1000), long, ...short.slice(1000)];
    const parts = textParts(lines);
    expect(Buffer.concat(parts).equals(joinLines(lines, true))).toBe(true);
    // Not a copy of the 6 MB row: the very buffer, once.
    expect(parts.filter((p) => p === long)).toHaveLength(1);
    for (const part of parts.filter((p) => p !== long))
      expect(part.length).toBeLessThanOrEqual(64 * 1024 + 100);
  });
});

describe("textParts, for a line in Node's shared pool of small buffers", () => {
  it("never takes the byte after the line for its newline: the next small buffer may take that byte", () => {
    // As Buffer.allocUnsafe hands out a small buffer: a view of the pool (an ArrayBuffer of
    // Buffer.poolSize bytes). A stray "\n" lies after the line until the next buffer is written there.
    const pool = Buffer.alloc(Buffer.poolSize);
    const line = pool.subarray(0, 8);
    line.write('["ab12"]');
    pool[8] = 0x0a;
    const parts = textParts([line]);
    pool.write('["next"]', 8);
    expect(Buffer.concat(parts).toString("utf8")).toBe('["ab12"]\n');
  });
});

describe("dropLines", () => {
  it("drops the first lines of a text held in pieces, whatever the piece boundaries", () => {
    const text = Buffer.from("a\nbé\n\ncc\nd");
    for (const size of [1, 2, 3, 5, 100]) {
      const views: Buffer[] = [];
      for (let at = 0; at < text.length; at += size) views.push(text.subarray(at, at + size));
      for (let n = 0; n <= 4; n++) {
        const rest = Buffer.concat(dropLines(views, n)).toString("utf8");
        expect(rest, `pieces of ${size}, ${n} dropped`).toBe(
          text.toString("utf8").split("\n").slice(n).join("\n"),
        );
      }
    }
  });
});
