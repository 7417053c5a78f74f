/**
 * The direct path reads live tables as COPY text rows and builds each line itself (lib/backup/copy-text.ts);
 * the paged path and the run's copy have the database build it (array_to_json of the columns' texts). The
 * two must be the same bytes, or a table's chunks would differ by the path that read them: checked on
 * values made of every character COPY or JSON escapes, and on the export of a real table.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyPiecesToLine, copyTextToLine } from "../../lib/backup/copy-text.ts";
import { joinLines, LineSplitter, textParts } from "../../lib/backup/lines.ts";
import { PostgresCaller } from "../../lib/db/postgres.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

let db: TestDatabase;
let caller: PostgresCaller;

beforeAll(async () => {
  db = await createTestDatabase("migrated");
  caller = new PostgresCaller(db.url, { max: 1 });
  await db.owner.query(`
    create table texts (n int primary key, a text, b text, c bytea, d text[], e jsonb);
    insert into texts
    select 1, string_agg(chr(i), '' order by i), null, '\\x5c0a09'::bytea, array[E'\\\\N', null, E'a\\tb'], '{"k": "\\\\u0001\\n"}'
    from generate_series(1, 127) i;
    insert into texts values
      (2, E'\\\\N', '', null, null, null),
      (3, 'N', E'\\\\', '\\x'::bytea, '{}', '"\\\\\\\\"'),
      (4, E'back\\\\slash\\\\n and \\\\t', E'\\u00e9\\u65e5\\U0001F642', null, array['', '"'], '[]'),
      (5, E'\\x7f\\x1f\\x1b[0m', E'tab\\there\\rcr\\nlf\\x0bvt\\bbs\\fff', null, null, 'null');
    -- Long enough to be written in a buffer of its own rather than the shared slab.
    insert into texts
    select 6, repeat(string_agg(chr(i), '' order by i), 500), null, '\\x00ff'::bytea, null, null
    from generate_series(1, 127) i;`);
});

afterAll(async () => {
  await caller?.close();
  await db?.drop();
});

const COLUMNS = "n::text, a, b, c::text, d::text, e::text";

async function copyRows(query: string): Promise<Buffer[]> {
  const splitter = new LineSplitter();
  const rows: Buffer[] = [];
  for await (const chunk of await caller.copyText(query, {})) rows.push(...splitter.push(chunk as Buffer));
  expect(splitter.end().length).toBe(0);
  return rows;
}

describe("a COPY text row as a backup line", () => {
  it("is byte for byte the line the database builds, for every character COPY or JSON escapes", async () => {
    const fromDatabase = await db.client.query(
      `select array_to_json(array[${COLUMNS}])::text as line from texts order by n`,
    );
    const rows = await copyRows(`select ${COLUMNS} from texts order by n`);
    expect(rows).toHaveLength(6);
    expect(rows.map((row) => copyTextToLine(row).toString("utf8"))).toEqual(
      fromDatabase.rows.map((r) => r.line),
    );
    // Each value round-trips: the row of control characters came back whole.
    const first = JSON.parse(copyTextToLine(rows[0] as Buffer).toString("utf8")) as (string | null)[];
    expect(first[1]).toBe(Array.from({ length: 127 }, (_, i) => String.fromCharCode(i + 1)).join(""));
    expect(first[2]).toBeNull();
  });

  it("writes short rows' lines one after the other with a newline between, so they travel as one piece", async () => {
    const rows = await copyRows(`select ${COLUMNS} from texts where n < 6 order by n`);
    const lines = rows.map(copyTextToLine);
    const parts = textParts(lines);
    expect(Buffer.concat(parts).equals(joinLines(lines, true))).toBe(true);
    expect(parts).toHaveLength(1);
    // A view of the lines where they lie, not a copy of them.
    expect(parts[0]?.buffer).toBe(lines[0]?.buffer);
  });
});

/** `row` cut at `cuts` (ascending offsets), as the pieces a reader would get it in. */
function cutAt(row: Buffer, cuts: number[]): Buffer[] {
  const pieces: Buffer[] = [];
  let from = 0;
  for (const cut of [...cuts, row.length]) {
    pieces.push(row.subarray(from, cut));
    from = cut;
  }
  return pieces;
}

/** A small seeded generator (mulberry32): the same rows on every run. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("a COPY text row that spans pieces as a backup line", () => {
  it("is the line of the whole row, wherever the row is cut, for every row the database wrote", async () => {
    const rows = await copyRows(`select ${COLUMNS} from texts order by n`);
    for (const row of rows) {
      const line = Buffer.from(copyTextToLine(row));
      // Cut in two at every offset of the shorter rows (every 97th of the long one), and byte by byte.
      const step = row.length > 2000 ? 97 : 1;
      for (let cut = 0; cut <= row.length; cut += step) {
        expect(copyPiecesToLine(cutAt(row, [cut])).equals(line)).toBe(true);
      }
      const bytes = Array.from({ length: row.length - 1 }, (_, i) => i + 1);
      expect(copyPiecesToLine(cutAt(row, bytes)).equals(line)).toBe(true);
    }
  });

  it("is the line of the whole row for rows made of separators, escapes, NULL markers and control bytes", () => {
    // Bytes that change state (tab, backslash, "N"), letters of COPY's escapes, bytes the line escapes, and
    // UTF-8 of two and four bytes.
    const alphabet = [
      ...'\t\\N\\N"x btnvrf\b\f\n\r\u000b\u0001\u001f\u007f'.split("").map((c) => Buffer.from(c)),
      Buffer.from("é"),
      Buffer.from("🙂"),
      Buffer.from("\\N\t"),
    ];
    const next = random(11);
    for (let n = 0; n < 3000; n++) {
      const row = Buffer.concat(
        Array.from(
          { length: Math.floor(next() * 24) },
          () => alphabet[Math.floor(next() * alphabet.length)] as Buffer,
        ),
      );
      const cuts = Array.from({ length: Math.floor(next() * 4) }, () =>
        Math.floor(next() * (row.length + 1)),
      ).sort((a, b) => a - b);
      const line = Buffer.from(copyTextToLine(row));
      const pieced = copyPiecesToLine(cutAt(row, cuts));
      if (!pieced.equals(line)) {
        expect({ row: JSON.stringify(row.toString("latin1")), cuts, line: pieced.toString() }).toEqual({
          row: JSON.stringify(row.toString("latin1")),
          cuts,
          line: line.toString(),
        });
      }
    }
  });
});
