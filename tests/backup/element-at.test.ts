/**
 * elementAt: one column of a backup line, parsed alone (an undo point's last key, without decoding the
 * row's other columns), the same as parsing the whole line.
 */
import { describe, expect, it } from "vitest";
import { elementAt } from "../../lib/backup/row-source.ts";

describe("elementAt", () => {
  it("answers each column of a line as JSON.parse of the whole line does", () => {
    const row = ['a,"b"', 'p",q', null, "c\\d\n", "", "é€𝄞", '{"k": [1, 2]}', "x".repeat(70_000), "last"];
    const line = Buffer.from(JSON.stringify(row));
    for (const [i, value] of row.entries()) expect(elementAt(line, i)).toBe(value);
  });

  it("fails on a column the line does not have", () => {
    expect(() => elementAt(Buffer.from('["1","2"]'), 2)).toThrow("no column 2");
  });
});
