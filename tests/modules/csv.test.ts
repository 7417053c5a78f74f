/**
 * The CSV reader and writer on their own: what spreadsheets send (BOM, CRLF, quoted line breaks, doubled
 * quotes) and what COPY writes (NULL empty, "" for an empty text).
 */
import { describe, expect, it } from "vitest";
import { CsvSyntaxError, csvLine, parseCsv } from "../../lib/modules/csv.ts";

describe("CSV", () => {
  it("reads a BOM, CRLF, quoted line breaks and quotes, telling NULL from an empty text", () => {
    const text = '\uFEFFa,b,c\r\n1,"x\r\ny",\r\n2,"",   "\r\n\r\n3,"say ""hi""",z\r\n';
    expect(() => [...parseCsv(text)]).toThrow(CsvSyntaxError);
    const good = '\uFEFFa,b,c\r\n1,"x\r\ny",\r\n2,"",\r\n\r\n3,"say ""hi""",z\r\n';
    expect([...parseCsv(good)]).toEqual([
      { line: 1, fields: ["a", "b", "c"] },
      { line: 2, fields: ["1", "x\r\ny", null] },
      { line: 4, fields: ["2", "", null] },
      { line: 6, fields: ["3", 'say "hi"', "z"] },
    ]);
  });

  it("names the line of an unclosed quote", () => {
    expect(() => [...parseCsv('a\n"open\nstill open')]).toThrow("line 2: a quoted field is never closed");
  });

  it("writes fields as COPY does", () => {
    expect(csvLine(["1", null, "", "a,b", 'q"q', "l\nf"])).toBe('1,,"","a,b","q""q","l\nf"\n');
    expect(csvLine(["\\."])).toBe('"\\."\n');
  });
});
