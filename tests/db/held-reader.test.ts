/**
 * On the direct path, the COPYs read at a held moment (a backup's tables) run one after another on one
 * connection, its reader, which imports the moment once and keeps its settings: a table costs one round
 * trip, not five, and the reader's transaction ends beside the moment's. Every COPY still sees the moment
 * and its settings; a COPY stopped half way, one asked for while the reader streams, and the moment ending
 * while the reader streams each leave no connection out of the pool and none idle in a transaction; a
 * reader whose connection was cut while it waited is dropped, and the next COPY reads the moment on a new
 * one; a COPY whose connection was cut before anyone read it fails for its reader, not for the process.
 */
import { text as streamText } from "node:stream/consumers";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DatabaseError, type HeldSnapshot } from "../../lib/db/port.ts";
import { PostgresCaller } from "../../lib/db/postgres.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { statementsSent } from "../support/statements.ts";
import { within } from "../support/within.ts";

let db: TestDatabase;
let caller: PostgresCaller;
let held: HeldSnapshot | null = null;

beforeAll(async () => {
  db = await createTestDatabase("migrated");
  await db.owner.query("create table public.reader_rows (n int)");
  await db.owner.query("insert into public.reader_rows select generate_series(1, 10)");
});

beforeEach(() => {
  caller = new PostgresCaller(db.url, { max: 4 });
});

afterEach(async () => {
  await held?.close(false);
  held = null;
  await caller.close();
  // The rows a test committed after its moment, gone before the next test, whether it passed or not.
  await db.owner.query("delete from public.reader_rows where n > 10");
});

afterAll(async () => {
  await db?.drop();
});

/** The server process, the rows seen and the time zone, as one COPY text row. */
const SEEN =
  "select pg_backend_pid(), (select count(*) from public.reader_rows), current_setting('timezone')";
const UTC = { timezone: "UTC" };
const TOKYO = { timezone: "Asia/Tokyo" };

async function seen(snapshot: string | undefined, settings: Record<string, string> = UTC) {
  const [pid, rows, zone] = (await streamText(await caller.copyText(SEEN, settings, snapshot)))
    .trim()
    .split("\t");
  return { pid: Number(pid), rows: Number(rows), zone };
}

/** Waits up to a second for `condition` to hold. */
/** Waits until every connection the caller opened is back in its pool. */
async function allReturned(): Promise<void> {
  await within(1000, () => caller.pool.idleCount === caller.pool.totalCount);
  expect(caller.pool.idleCount).toBe(caller.pool.totalCount);
}

/**
 * After the reader `reader` (a server process) was lost: the next COPY at the held moment runs on another
 * connection and still sees the moment (the 10 rows it began with); then the moment is let go, and every
 * connection is back, none idle in a transaction.
 */
async function readsTheMomentAnew(reader: number): Promise<void> {
  const moment = held as HeldSnapshot;
  const next = await seen(moment.id);
  expect(next.pid).not.toBe(reader);
  expect(next.rows).toBe(10);
  held = null;
  await moment.close(false);
  await allReturned();
  expect(await idleInTransaction()).toBe(0);
}

/** Our connections idle inside a transaction (none should be once a moment is let go). */
async function idleInTransaction(): Promise<number> {
  const { rows } = await db.owner.query(
    "select count(*)::int as n from pg_stat_activity where datname = current_database() and state like 'idle in transaction%' and pid <> pg_backend_pid()",
  );
  return rows[0].n;
}

describe("the reader of a held moment", () => {
  it("reads every COPY at the moment on one connection, sending only the COPY after the first", async () => {
    held = await caller.holdSnapshot();
    const id = held.id;
    // Committed after the moment, before and between the COPYs: no COPY at the moment sees them.
    await db.owner.query("insert into public.reader_rows values (11)");
    const first = await seen(id);
    await db.owner.query("insert into public.reader_rows values (12)");
    let later = first;
    const sent = await statementsSent(async () => {
      later = await seen(id);
    });
    expect(later).toEqual(first);
    expect(first.rows).toBe(10);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.text).toMatch(/^copy \(/);
    // Outside the moment, the rows are there.
    expect((await seen(undefined)).rows).toBe(12);
    await held.close(false);
    held = null;
    await allReturned();
    expect(await idleInTransaction()).toBe(0);
  });

  it("ends the reader's transaction and the moment's side by side when the moment is let go", async () => {
    const moment = await caller.holdSnapshot();
    held = moment;
    await seen(moment.id);
    held = null;
    const ends = await statementsSent(() => moment.close(false));
    expect(ends.map((s) => s.text).sort()).toEqual(["commit", "rollback"]);
    // Both sent before either was answered: neither waits for the other.
    expect(ends[0]?.answeredBefore).toBe(ends[1]?.answeredBefore);
    await allReturned();
    expect(await idleInTransaction()).toBe(0);
  });

  it("waits, when closed again, for the first close's end, and ends nothing more", async () => {
    const moment = await caller.holdSnapshot();
    held = moment;
    await seen(moment.id);
    held = null;
    let second = false;
    const ends = await statementsSent(async () => {
      // Not awaited, as a backup lets its moment go once every table is read; its end waits below.
      void moment.close(false);
      await moment.close(false);
      second = true;
    });
    expect(second).toBe(true);
    expect(ends.map((s) => s.text).sort()).toEqual(["commit", "rollback"]);
    // Answered only once both transactions had ended.
    expect(caller.pool.idleCount).toBe(caller.pool.totalCount);
    expect(await idleInTransaction()).toBe(0);
  });

  it("sets the settings a COPY asks for when they differ from those it holds, for its transaction only", async () => {
    held = await caller.holdSnapshot();
    expect((await seen(held.id, TOKYO)).zone).toBe("Asia/Tokyo");
    expect((await seen(held.id, TOKYO)).zone).toBe("Asia/Tokyo");
    expect((await seen(held.id, UTC)).zone).toBe("UTC");
    await held.close(false);
    held = null;
    // The reader's connection went back to the pool: its settings went with its transaction.
    expect((await seen(undefined, {})).zone).not.toBe("Asia/Tokyo");
  });

  it("drops a connection whose COPY stopped half way; the next COPY at the moment gets a new one", async () => {
    held = await caller.holdSnapshot();
    const before = await seen(held.id);
    const big = await caller.copyText("select g from generate_series(1, 2000000) g", UTC, held.id);
    for await (const _ of big) break;
    const after = await seen(held.id);
    expect(after.pid).not.toBe(before.pid);
    expect(after.rows).toBe(before.rows);
    await held.close(false);
    held = null;
    await allReturned();
    expect(await idleInTransaction()).toBe(0);
  });

  it("gives a COPY asked for while the reader streams a connection of its own, and takes it back", async () => {
    held = await caller.holdSnapshot();
    const reader = (await seen(held.id)).pid;
    const streaming = await caller.copyText("select g from generate_series(1, 200000) g", UTC, held.id);
    const other = await seen(held.id);
    expect(other.pid).not.toBe(reader);
    expect(other.rows).toBe(10);
    expect((await streamText(streaming)).split("\n")).toHaveLength(200001);
    // The reader is free again: the next COPY runs there.
    expect((await seen(held.id)).pid).toBe(reader);
    await held.close(false);
    held = null;
    await allReturned();
    expect(await idleInTransaction()).toBe(0);
  });

  it("ends the reader with its COPY when the moment is let go while it streams", async () => {
    held = await caller.holdSnapshot();
    const streaming = await caller.copyText("select g from generate_series(1, 200000) g", UTC, held.id);
    await held.close(false);
    held = null;
    expect((await streamText(streaming)).split("\n")).toHaveLength(200001);
    await allReturned();
    expect(await idleInTransaction()).toBe(0);
  });

  it("drops a waiting reader whose connection was cut; the next COPY reads the moment on a new one", async () => {
    held = await caller.holdSnapshot();
    const reader = (await seen(held.id)).pid;
    await db.owner.query("insert into public.reader_rows values (11)");
    await db.owner.query("select pg_terminate_backend($1)", [reader]);
    await within(1000, () => caller.pool.totalCount === 1);
    expect(caller.pool.totalCount).toBe(1);
    // Not a failure: the moment is still held, and a new reader reads it.
    await readsTheMomentAnew(reader);
  });

  it("keeps a COPY's failure for its reader when its connection was cut before anyone read it", async () => {
    held = await caller.holdSnapshot();
    const reader = (await seen(held.id)).pid;
    // Opened on the reader, as the next table's COPY is opened ahead of its turn, cut while it runs and
    // left unread while it fails: the process must not end on it.
    const ahead = await caller.copyText("select pg_sleep(30)", UTC, held.id);
    await db.owner.query("select pg_terminate_backend($1)", [reader]);
    await new Promise((r) => setTimeout(r, 100));
    const error = await streamText(ahead).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DatabaseError);
    expect((error as DatabaseError).code).toBe("transient");
    // The moment is still held: the next COPY reads it on a new connection.
    await readsTheMomentAnew(reader);
  });

  it("answers a transient error when the moment is gone", async () => {
    const gone = await caller.holdSnapshot();
    const id = gone.id;
    await gone.close(false);
    const error = await caller.copyText(SEEN, UTC, id).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DatabaseError);
    expect((error as DatabaseError).code).toBe("transient");
    await allReturned();
  });
});
