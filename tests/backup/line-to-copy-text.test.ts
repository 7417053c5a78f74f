/**
 * Typed staging turns each backup line back into a row of COPY's text format (lib/backup/line-to-copy-text.ts)
 * and COPYs it into a table of the real types (lib/backup/typed-stage-rows.ts). Checked here: the row is
 * the exact inverse of copyTextToLine for values made of every character JSON or COPY escapes, unicode,
 * backslashes, empty strings, NULL against the string "null"; every JSON escape another writer may use
 * reads the same; what is not a backup line is refused; and, against the database, lines exported from a
 * table of awkward types come back through COPY as the very same values, each with its line's md5.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyTextToLine } from "../../lib/backup/copy-text.ts";
import { lineToCopyText, NotABackupLine } from "../../lib/backup/line-to-copy-text.ts";
import { typedStageRows } from "../../lib/backup/typed-stage-rows.ts";
import { PostgresCaller } from "../../lib/db/postgres.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

/** The line a backup stores for these values (JSON.stringify escapes as the database's export does). */
const lineOf = (values: (string | null)[]) => Buffer.from(JSON.stringify(values), "utf8");
const rowOf = (values: (string | null)[]) => lineToCopyText(lineOf(values)).toString("utf8");

/** Reads a COPY text row as COPY FROM does (the reference the converter is checked against). */
function readCopyRow(row: string): (string | null)[] {
  return row.split("\t").map((field) => {
    if (field === "\\N") return null;
    const names: Record<string, string> = { b: "\b", f: "\f", n: "\n", r: "\r", t: "\t", v: "\v" };
    return field.replace(/\\(.)/gsu, (_, c: string) => names[c] ?? c);
  });
}

describe("a backup line as a COPY text row", () => {
  it("writes NULL as \\N and the string null, \\N, empty strings and escapes as COPY reads them", () => {
    expect(rowOf([null, "null", "", "\\N", "N"])).toBe("\\N\tnull\t\t\\\\N\tN");
    expect(rowOf(["a\tb", "line\nnext", "cr\rlf", "back\\slash", '"quoted"'])).toBe(
      'a\\tb\tline\\nnext\tcr\\rlf\tback\\\\slash\t"quoted"',
    );
    expect(rowOf(["\\x5c0a", "\\.", "\\"])).toBe("\\\\x5c0a\t\\\\.\t\\\\");
    expect(rowOf(["é日🙂\u2028\uffff"])).toBe("é日🙂\u2028\uffff");
  });

  it("is the exact inverse of copyTextToLine for every character below 0x80 and unicode, alone and mixed", () => {
    const singles = Array.from({ length: 127 }, (_, i) => String.fromCharCode(i + 1));
    const values: (string | null)[] = [
      ...singles,
      singles.join(""),
      "",
      null,
      "null",
      "\\N",
      "é",
      "日本語",
      "🙂 and \ud83d\udc4d",
      "\\\\\\",
      "\\n is not a newline",
      "\t\n\r\b\f\v\x1b[0m",
      '{"k": "v\\u0001"}',
      '{a,"b c",NULL}',
    ];
    const line = lineOf(values);
    const row = lineToCopyText(line);
    expect(readCopyRow(row.toString("utf8"))).toEqual(values);
    expect(copyTextToLine(row).equals(line)).toBe(true);
  });

  it("round-trips thousands of random rows of awkward characters byte for byte", () => {
    const alphabet = [
      "a",
      " ",
      "\\",
      "\t",
      "\n",
      "\r",
      '"',
      "\u0001",
      "\u001f",
      "\x7f",
      "é",
      "日",
      "🙂",
      "N",
      ",",
    ];
    let seed = 42;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    for (let r = 0; r < 3000; r++) {
      const values = Array.from({ length: 1 + (next() % 6) }, () => {
        if (next() % 7 === 0) return null;
        return Array.from({ length: next() % 9 }, () => alphabet[next() % alphabet.length]).join("");
      });
      const line = lineOf(values);
      const row = lineToCopyText(line);
      expect(readCopyRow(row.toString("utf8"))).toEqual(values);
      expect(copyTextToLine(row).equals(line)).toBe(true);
    }
  });

  it("reads every JSON escape another writer may use: \\/, \\uXXXX in either case, surrogate pairs", () => {
    const row = (json: string) => lineToCopyText(Buffer.from(json, "utf8")).toString("utf8");
    expect(row('["\\/","\\u00e9\\u00C9","\\ud83d\\ude42","\\u005c","\\u000A\\u0009\\u000d","\\u0022"]')).toBe(
      '/\téÉ\t🙂\t\\\\\t\\n\\t\\r\t"',
    );
    expect(row('["\\b\\f\\u000b"]')).toBe("\b\f\v");
  });

  it("refuses what is not a backup line, naming why", () => {
    for (const bad of [
      "",
      "[]",
      '{"a":"b"}',
      '["a", "b"]',
      "[1]",
      '["a",true]',
      '["a"',
      '["a]',
      '["a"]x',
      '["a",]',
      '["\\u0000"]',
      '["\\ud83d"]',
      '["\\ude42x"]',
      '["\\ud83dx\\ude42"]',
      '["\\u12"]',
      '["\\u12g4"]',
      '["\\q"]',
      '["tab\there"]',
      "[nul]",
    ]) {
      expect(() => lineToCopyText(Buffer.from(bad, "utf8")), bad).toThrow(NotABackupLine);
    }
  });
});

describe("a page of backup lines as typed staging rows", () => {
  it("numbers each row with its page and the md5 of its line, a line spanning buffers included", () => {
    const lines = [lineOf(["1", "a\tb"]), lineOf(["2", null])];
    const joined = Buffer.concat([lines[0] as Buffer, Buffer.from("\n"), lines[1] as Buffer]);
    const md5 = (b: Buffer) => createHash("md5").update(b).digest("hex");
    const expected = `7\t${md5(lines[0] as Buffer)}\t1\ta\\tb\n7\t${md5(lines[1] as Buffer)}\t2\t\\N\n`;
    expect(typedStageRows(7, [joined])).toEqual({ text: Buffer.from(expected), rows: 2 });
    const split = [joined.subarray(0, 5), joined.subarray(5, 14), joined.subarray(14)];
    expect(typedStageRows(7, split).text.toString()).toBe(expected);
  });
});

describe("a page of COPY rows as typed staging rows", () => {
  /** Random rows of awkward values, as COPY text (as format 3's chunks hold them) and as their lines. */
  function awkwardRows(count: number, seed: number) {
    const alphabet = ["a", "\\", "\t", "\n", "\r", '"', "\u0001", "é", "🙂", "N", ",", "[", "\\N"];
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    const values = Array.from({ length: count }, () =>
      Array.from({ length: 1 + (next() % 4) }, () =>
        next() % 6 === 0
          ? null
          : Array.from({ length: next() % 7 }, () => alphabet[next() % alphabet.length]).join(""),
      ),
    );
    // One row of a single empty value: an empty COPY row, first, in the middle and last.
    values.splice(0, 0, [""]);
    values.splice(count >> 1, 0, [""]);
    values.push([""]);
    const copyRows = values.map((v) => lineToCopyText(lineOf(v)));
    return { lines: values.map(lineOf), copyRows };
  }
  const page = (rows: Buffer[]) => Buffer.from(rows.map((r) => r.toString("latin1")).join("\n"), "latin1");
  /** The page cut into buffers at `cuts` (byte offsets), so that rows and their characters span buffers. */
  const cut = (text: Buffer, cuts: number[]) =>
    [0, ...cuts, text.length].slice(1).map((end, i, ends) => text.subarray(i === 0 ? 0 : ends[i - 1], end));

  it("stages each row as it is, with the md5 of its line: the same text as the page of its lines", () => {
    const { lines, copyRows } = awkwardRows(400, 7);
    const expected = typedStageRows(5, [page(lines)]);
    expect(expected.rows).toBe(lines.length);
    const whole = page(copyRows);
    expect(typedStageRows(5, [whole], true)).toEqual(expected);
    for (const seed of [1, 2, 3]) {
      const cuts = Array.from({ length: 40 }, (_, i) => ((i + 1) * 97 * seed) % whole.length).sort(
        (a, b) => a - b,
      );
      const buffers = cut(
        whole,
        [...new Set(cuts)].filter((c) => c > 0),
      );
      expect(typedStageRows(5, buffers, true).text.equals(expected.text)).toBe(true);
    }
    // Every byte a buffer of its own: every row spans buffers, the empty ones too.
    const bytes = cut(
      whole,
      Array.from({ length: whole.length - 1 }, (_, i) => i + 1),
    );
    expect(typedStageRows(5, bytes, true).text.equals(expected.text)).toBe(true);
  });

  it("hashes a row longer than its scratch buffer from a buffer of its own, and rows after it as before", () => {
    // Its line may take six times its bytes: past the 1 MB that copyTextLineView writes lines into.
    const long = lineToCopyText(lineOf(["x".repeat(200_000), "\t\n".repeat(5_000), null]));
    const short = lineToCopyText(lineOf(["1", null]));
    const rows = [short, long, short];
    const expected = typedStageRows(9, [page(rows.map((r) => copyTextToLine(r)))]);
    expect(typedStageRows(9, [page(rows)], true)).toEqual(expected);
  });
});

describe("typed staging against the database", () => {
  let db: TestDatabase;
  let caller: PostgresCaller;

  beforeAll(async () => {
    db = await createTestDatabase("migrated");
    caller = new PostgresCaller(db.url, { max: 1 });
    await db.owner.query(`
      create type mood as enum ('ok', 'so so', 'a"b\\c');
      create table awkward (n int primary key, a text, b bytea, c text[], d jsonb, e timestamptz, f interval,
        g numeric, h double precision, i mood, j int4range, k date, l boolean, m uuid, o xml, p point);
      insert into awkward
      select 1, string_agg(chr(i), '' order by i), '\\x5c0a09ff00'::bytea, array[E'\\\\N', null, E'a\\tb', 'NULL', ''],
             '{"k": "\\\\u0001\\n", "é": [1.50, null]}', '2026-03-29 01:30:00.123456+02', '1 year 2 mons -3 days 04:05:06.7',
             '-0.000100', 1.0/3, 'a"b\\c', '[1,5)', '0044-03-15 BC', true, gen_random_uuid(), '<a x="1">&amp;</a>', '(1.5,-2)'
      from generate_series(1, 127) i;
      insert into awkward (n, a, b, c, d, h, i) values
        (2, E'\\\\N', '', '{}', 'null', 'NaN', 'so so'),
        (3, 'null', null, array['"', '\\\\', '{'], '"\\\\\\\\"', '-Infinity', 'ok'),
        (4, E'\\u00e9\\u65e5\\U0001F642 tab\\there\\rcr\\nlf', '\\x', null, '[]', 1e300, null),
        (5, '', null, null, null, -0.0, null);`);
  });

  afterAll(async () => {
    await caller?.close();
    await db?.drop();
  });

  it("COPYs every exported line back as the same values, each with its line's md5", async () => {
    // The lines as the export writes them (tenant_backup_export_sql's settings and select list).
    const exported = await db.client.query(`
      set datestyle = 'ISO, YMD'; set intervalstyle = 'postgres'; set timezone = 'UTC';
      set extra_float_digits = 1; set bytea_output = 'hex';
      select array_to_json(array[n::text, a::text, b::text, c::text, d::text, e::text, f::text, g::text, h::text,
                                 i::text, j::text, k::text, l::text, m::text, o::text, p::text])::text as line
      from awkward order by n;`);
    const lines = (exported as unknown as { rows: { line: string }[] }[])[5]?.rows.map((r) => r.line) ?? [];
    expect(lines).toHaveLength(5);
    await db.owner.query(
      "create table staged (tb_page int, tb_h uuid, like awkward); alter table staged add column tb_line text",
    );
    const { text, rows } = typedStageRows(3, [Buffer.from(lines.join("\n"), "utf8")]);
    expect(rows).toBe(5);
    // Read under other settings than the export's: the restore sets the export's for its COPY.
    await caller.copyIn?.(
      "copy staged (tb_page, tb_h, n, a, b, c, d, e, f, g, h, i, j, k, l, m, o, p) from stdin",
      [text],
      [
        {
          text: "select set_config('datestyle', 'ISO, YMD', true), set_config('intervalstyle', 'postgres', true), set_config('timezone', 'UTC', true)",
          values: [],
        },
      ],
    );
    const compared = await db.client.query(`
      select
        (select count(*) from staged) as staged,
        (select count(*) from staged s where s.tb_page <> 3) as other_pages,
        (select count(*) from staged s join awkward w using (n)
         where (s.a, s.b, s.c, s.d, s.e, s.f, s.g, s.h, s.i, s.j, s.k, s.l, s.m, s.p::text)
           is not distinct from (w.a, w.b, w.c, w.d, w.e, w.f, w.g, w.h, w.i, w.j, w.k, w.l, w.m, w.p::text)
           and s.o::text is not distinct from w.o::text
           and s.g::text is not distinct from w.g::text and s.h::text is not distinct from w.h::text) as equal`);
    expect(compared.rows[0]).toEqual({ staged: "5", other_pages: "0", equal: "5" });
    const hashes = await db.client.query("select n, tb_h::text as h from staged order by n");
    expect(hashes.rows.map((r) => r.h.replaceAll("-", ""))).toEqual(
      lines.map((line) => createHash("md5").update(line, "utf8").digest("hex")),
    );
  });
});
