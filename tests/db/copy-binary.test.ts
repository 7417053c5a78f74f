/**
 * COPY's binary format read back as values, one per line: PostgreSQL's own output (empty values,
 * multi-byte characters, values holding "\n", a value of 1 MB) comes out as the values joined by "\n"
 * however the stream is cut; anything but one non-null column per row, or a stream that stops before
 * its end, is refused.
 */
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { to as copyTo } from "pg-copy-streams";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { binaryCopyValues } from "../../lib/db/copy-binary.ts";
import { PostgresCaller } from "../../lib/db/postgres.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase("migrated");
});

afterAll(async () => {
  await db?.drop();
});

const VALUES = ["", "plain", "é€ and 😀", 'quotes " and \\ backslashes', "two\nlines", "tab\tend"];
const VALUES_SQL = `select v from unnest(array[${VALUES.map((v) => `'${v.replaceAll("'", "''")}'`).join(", ")}]::text[]) with ordinality x(v, i) order by i`;

/** What the server writes for `select` in COPY's binary format, as one buffer. */
async function binaryOf(select: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  const stream = db.client.query(copyTo(`copy (${select}) to stdout with (format binary)`));
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

/** `bytes` through the reader, handed over in pieces cut at `cuts`. */
async function readValues(bytes: Buffer, cuts: number[]): Promise<Buffer> {
  const at = [0, ...cuts.filter((c) => c > 0 && c < bytes.length), bytes.length];
  const pieces = at.slice(1).map((end, i) => bytes.subarray(at[i], end));
  const out: Buffer[] = [];
  const reader = binaryCopyValues();
  reader.on("data", (chunk: Buffer) => out.push(chunk));
  await pipeline(Readable.from(pieces), reader);
  return Buffer.concat(out);
}

const expected = (values: string[]) => Buffer.from(values.map((v) => `${v}\n`).join(""));

describe("binaryCopyValues", () => {
  it("gives each value of PostgreSQL's binary COPY followed by a newline, cut at every byte", async () => {
    const bytes = await binaryOf(VALUES_SQL);
    expect(await readValues(bytes, [])).toEqual(expected(VALUES));
    for (let cut = 1; cut < bytes.length; cut++) {
      expect(await readValues(bytes, [cut]), `cut at ${cut}`).toEqual(expected(VALUES));
    }
    // One byte at a time.
    const every = Array.from({ length: bytes.length }, (_, i) => i);
    expect(await readValues(bytes, every)).toEqual(expected(VALUES));
  });

  it("passes a value of 1 MB through in the pieces it arrives in", async () => {
    const bytes = await binaryOf("select repeat('ab€', 350000) union all select 'after'");
    const big = "ab€".repeat(350000);
    for (const step of [1000, 65536, 777777]) {
      const cuts = Array.from({ length: Math.ceil(bytes.length / step) }, (_, i) => i * step);
      expect((await readValues(bytes, cuts)).equals(expected([big, "after"])), `pieces of ${step}`).toBe(
        true,
      );
    }
  });

  it("answers nothing for no rows", async () => {
    expect(await readValues(await binaryOf("select 'x'::text where false"), [])).toEqual(Buffer.alloc(0));
  });

  it("refuses a NULL value, two columns, a stream cut short, and data that is not binary COPY", async () => {
    await expect(readValues(await binaryOf("select null::text"), [])).rejects.toThrow(/NULL/);
    await expect(readValues(await binaryOf("select 'a'::text, 'b'::text"), [])).rejects.toThrow(
      /2 fields, 1 expected/,
    );
    const whole = await binaryOf(VALUES_SQL);
    await expect(readValues(whole.subarray(0, whole.length - 2), [])).rejects.toThrow(/ended before its end/);
    await expect(readValues(whole.subarray(0, 30), [])).rejects.toThrow(/ended before its end/);
    await expect(readValues(Buffer.from("a\tb\n".repeat(10)), [])).rejects.toThrow(/not binary COPY/);
    await expect(readValues(Buffer.concat([whole, Buffer.from([0])]), [])).rejects.toThrow(/after its end/);
  });

  it("is what the direct connection's copyValues streams", async () => {
    const caller = new PostgresCaller(db.url, { max: 1 });
    try {
      const parts: Buffer[] = [];
      for await (const part of await caller.copyValues(VALUES_SQL, {})) parts.push(part as Buffer);
      expect(Buffer.concat(parts)).toEqual(expected(VALUES));
      // The connection went back to the pool in a state fit for the next call.
      expect(await caller.call("tenant_backup_undo_page_rows", {})).toBeGreaterThan(0);
    } finally {
      await caller.close();
    }
  });
});
