/**
 * LineSplitter: the lines of a stream whatever the chunk boundaries — inside a line, between "\n"s,
 * inside a multi-byte character — and a line much longer than any chunk arrives whole.
 */
import { describe, expect, it } from "vitest";
import { LineSplitter } from "../../lib/backup/lines.ts";

/** Every line `text` holds, fed in chunks of `size` bytes, plus what followed the last "\n". */
function splitInChunks(text: string, size: number): { lines: string[]; rest: string } {
  const bytes = Buffer.from(text, "utf8");
  const splitter = new LineSplitter();
  const lines: string[] = [];
  for (let at = 0; at < bytes.length; at += size) lines.push(...splitter.push(bytes.subarray(at, at + size)));
  return { lines, rest: splitter.end() };
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
    expect(new LineSplitter().end()).toBe("");
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
