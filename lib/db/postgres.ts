/**
 * The direct database backend: a pg connection pool (DATABASE_URL). Calls `select public.fn(p_a => $1, …)`.
 */
import { PassThrough, Readable, type Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import pg from "pg";
import { from as copyFrom, to as copyTo } from "pg-copy-streams";
import { binaryCopyValues } from "./copy-binary.ts";
import {
  type CallOptions,
  codeForSqlState,
  DatabaseError,
  type HeldSnapshot,
  type SqlFunctionCaller,
} from "./port.ts";

const NAME = /^[a-z_][a-z0-9_]*$/;
/** What pg_export_snapshot() answers, e.g. 00000003-0000001B-1. */
const SNAPSHOT_ID = /^[0-9A-F]+(-[0-9A-F]+)+$/;
/** Bytes of a COPY … TO stream read ahead of its reader (see copy). */
const READ_AHEAD_BYTES = 1024 * 1024;

export class PostgresCaller implements SqlFunctionCaller {
  readonly kind = "postgres";
  readonly pool: pg.Pool;

  /**
   * Per held snapshot (by id), its reader: the connection that streams the COPYs read at that moment, one
   * after another, in one transaction (see copy).
   */
  private readonly readers = new Map<string, ReaderSlot>();

  constructor(connectionString: string, options: { max?: number } = {}) {
    this.pool = new pg.Pool({ connectionString, max: options.max ?? 4 });
    // An idle client that loses its connection must not crash the process; the next call reconnects.
    this.pool.on("error", () => {});
  }

  /** A client of the pool; failing to get one is the DatabaseError every call answers. */
  private async connect(): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect();
    } catch (err) {
      throw toDatabaseError(err);
    }
  }

  async call<T>(name: string, args: Record<string, unknown>, options: CallOptions = {}): Promise<T> {
    if (options.statementTimeoutMs === undefined) return callOn<T>(this.pool, name, args);
    // A function's own setting cannot shorten a direct call: the timeout is set on the connection.
    return this.withTimeout(options.statementTimeoutMs, (client) => callOn<T>(client, name, args));
  }

  /**
   * Runs `work` on a connection of its own whose statement_timeout is `timeoutMs` (armed as each statement
   * starts), reset before the connection goes back.
   */
  private async withTimeout<T>(timeoutMs: number, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.connect();
    let healthy = true;
    try {
      await client.query(`set statement_timeout = ${Math.max(1, Math.round(timeoutMs))}`);
      return await work(client);
    } catch (err) {
      throw toDatabaseError(err);
    } finally {
      await client.query("reset statement_timeout").catch(() => {
        healthy = false;
      });
      client.release(!healthy);
    }
  }

  async vacuum(tables: readonly { schema: string; name: string }[], timeoutMs: number): Promise<void> {
    if (tables.length === 0) return;
    await this.withTimeout(timeoutMs, async (client) => {
      const names = tables.map(
        (t) => `${client.escapeIdentifier(t.schema)}.${client.escapeIdentifier(t.name)}`,
      );
      await client.query(`vacuum (skip_locked) ${names.join(", ")}`);
    });
  }

  async holdSnapshot(): Promise<HeldSnapshot> {
    const client = await this.connect();
    // Held idle between calls for the whole backup: the next call on a lost connection fails instead.
    const unguard = guardErrors(client);
    let id: string;
    try {
      // One round trip: a simple query of two statements, answered with a result for each.
      const answers = (await client.query(
        "begin isolation level repeatable read; select pg_export_snapshot() as id",
      )) as unknown as pg.QueryResult[];
      id = answers[1]?.rows[0].id as string;
    } catch (err) {
      unguard();
      client.release(true);
      throw toDatabaseError(err);
    }
    /** The transaction's end, once asked for: a second close waits for it instead of answering at once. */
    let ended: Promise<void> | null = null;
    const readers = this.readers;
    const slot: ReaderSlot = { reader: null, busy: false };
    readers.set(id, slot);
    return {
      id,
      call: <T>(name: string, args: Record<string, unknown>) => callOn<T>(client, name, args),
      close(commit) {
        if (ended) return ended;
        // A reader between two COPYs ends here; one still streaming ends with its COPY.
        readers.delete(id);
        // Taken from the slot first: its connection lost meanwhile is then not dropped twice (dropWhenLost).
        const parked = slot.busy ? null : slot.reader;
        slot.reader = null;
        // Side by side: the reader's transaction holds the moment of its own, whatever becomes of this one.
        ended = Promise.all([
          parked && endTransaction(parked.client, parked.unguard),
          endTransaction(client, unguard, commit ? "commit" : "rollback"),
        ]).then(() => {});
        return ended;
      },
    };
  }

  copyOut(
    query: string,
    settings: Record<string, string>,
    snapshot?: string,
  ): Promise<NodeJS.ReadableStream & { destroy(error?: Error): void }> {
    // CSV with a quote and a delimiter that never occur in our lines (JSON escapes control characters):
    // each line comes out exactly as the select made it. Text format would double every backslash.
    return this.copy(
      `copy (${query}) to stdout with (format csv, quote e'\\x01', delimiter e'\\x02')`,
      settings,
      snapshot,
    );
  }

  copyText(
    query: string,
    settings: Record<string, string>,
    snapshot?: string,
  ): Promise<NodeJS.ReadableStream & { destroy(error?: Error): void }> {
    return this.copy(`copy (${query}) to stdout`, settings, snapshot);
  }

  async copyIn(
    statement: string,
    data: readonly Uint8Array[],
    before: { text: string; values: unknown[] }[] = [],
  ): Promise<void> {
    const client = await this.connect();
    const unguard = guardErrors(client);
    let healthy = true;
    try {
      await client.query("begin");
      for (const { text, values } of before) await client.query(text, values);
      await pipeline(Readable.from(data), client.query(copyFrom(statement)));
      await client.query("commit");
    } catch (err) {
      // A COPY stopped half way leaves the connection mid-protocol: never hand it to the next caller.
      await client.query("rollback").catch(() => {
        healthy = false;
      });
      throw toDatabaseError(err);
    } finally {
      unguard();
      client.release(!healthy);
    }
  }

  copyValues(
    query: string,
    settings: Record<string, string>,
  ): Promise<NodeJS.ReadableStream & { destroy(error?: Error): void }> {
    return this.copy(`copy (${query}) to stdout with (format binary)`, settings, undefined, () =>
      binaryCopyValues({ highWaterMark: READ_AHEAD_BYTES }),
    );
  }

  copyCsv(
    query: string,
    settings: Record<string, string>,
  ): Promise<NodeJS.ReadableStream & { destroy(error?: Error): void }> {
    return this.copy(`copy (${query}) to stdout with (format csv, header)`, settings);
  }

  /**
   * Runs a COPY … TO STDOUT statement in a read-only transaction and streams what it writes, through
   * `through` (by default as it is).
   *
   * At a held moment, the COPYs of a backup run one after another on one connection, its reader, in one
   * transaction that imports the moment once, and that keeps settings set for the COPYs after: a table
   * costs one round trip (the COPY) where it cost five (begin, the snapshot, the settings, the COPY,
   * commit): for a small tenant, most of its backup's statements. A COPY asked for while the reader
   * streams another gets a connection of its own, for itself only.
   */
  private async copy(
    statement: string,
    settings: Record<string, string>,
    snapshot?: string,
    through: () => Transform = () => new PassThrough({ highWaterMark: READ_AHEAD_BYTES }),
  ): Promise<NodeJS.ReadableStream & { destroy(error?: Error): void }> {
    const slot = snapshot === undefined ? undefined : this.readers.get(snapshot);
    // The moment's reader when it is free, claimed before any await: two COPYs never share it.
    const mine = slot && !slot.busy ? slot : undefined;
    if (mine) mine.busy = true;
    const kept = mine?.reader ?? null;
    let client: pg.PoolClient;
    try {
      client = kept?.client ?? (await this.connect());
    } catch (err) {
      if (mine) mine.busy = false;
      throw err;
    }
    // The stream below reports a lost connection to the reader.
    let unguard = kept?.unguard ?? guardErrors(client);
    if (mine && !kept) unguard = dropWhenLost(mine, client, unguard);
    const wanted = JSON.stringify(settings);
    try {
      // What the connection still needs, in one round trip (a simple query of several statements).
      const steps: string[] = [];
      if (!kept) {
        steps.push("begin isolation level repeatable read read only");
        if (snapshot !== undefined) steps.push(importStatement(snapshot));
      }
      const names = Object.keys(settings);
      if (names.length > 0 && kept?.settings !== wanted) {
        const set = names.map(
          (n) =>
            `set_config(${client.escapeLiteral(n)}, ${client.escapeLiteral(settings[n] as string)}, true)`,
        );
        steps.push(`select ${set.join(", ")}`);
      }
      if (steps.length > 0) await client.query(steps.join("; ")).catch(snapshotGone);
      if (mine) mine.reader = { client, unguard, settings: wanted };
    } catch (err) {
      if (mine) {
        mine.busy = false;
        mine.reader = null;
      }
      unguard();
      client.release(true);
      throw err instanceof DatabaseError ? err : toDatabaseError(err);
    }
    // Up to 1 MB read ahead (past a default of 64 KB): the database goes on writing rows while the reader
    // is busy with those before, instead of waiting on a full socket.
    const copy = client.query(copyTo(statement, { highWaterMark: READ_AHEAD_BYTES }));
    let released = false;
    const release = (broken: boolean) => {
      if (released) return;
      released = true;
      if (mine) {
        mine.busy = false;
        // Kept in its transaction for the next COPY at the moment, while the moment is held.
        if (!broken && this.readers.get(snapshot as string) === mine) return;
        mine.reader = null;
      }
      // A COPY stopped half way leaves the connection mid-protocol: never hand it to the next caller.
      if (broken) {
        client.release(true);
        return;
      }
      void endTransaction(client, unguard);
    };
    // What the reader sees: the rows, or the failure as a DatabaseError (a lost connection is transient),
    // like every other call. Destroying it cancels the COPY.
    const stream = through();
    // A COPY opened ahead of its turn (the next table's) may fail before anyone reads it, as when its
    // connection was cut: the stream keeps the error for its reader, whose first read throws it, instead
    // of an unheard 'error' event ending the process.
    stream.on("error", () => {});
    copy.on("error", (err) => stream.destroy(toDatabaseError(err)));
    copy.on("end", () => release(false));
    copy.on("close", () => release(!copy.readableEnded));
    stream.on("close", () => {
      if (!copy.readableEnded) copy.destroy();
    });
    copy.pipe(stream);
    return stream;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** Calls `public.<name>(key => $n, …)` on a pool or one client. */
async function callOn<T>(
  on: pg.Pool | pg.PoolClient,
  name: string,
  args: Record<string, unknown>,
): Promise<T> {
  if (!NAME.test(name)) throw new DatabaseError("failed", `invalid function name ${name}`);
  const entries = Object.entries(args).filter(([, value]) => value !== undefined);
  for (const [key] of entries) {
    if (!NAME.test(key)) throw new DatabaseError("failed", `invalid argument name ${key}`);
  }
  // A Buffer goes as it is (pg sends it in binary format, which for a text parameter is its UTF-8 bytes).
  const params = entries.map(([, value]) =>
    value !== null && typeof value === "object" && !Buffer.isBuffer(value) ? JSON.stringify(value) : value,
  );
  const list = entries.map(([key], i) => `${key} => $${i + 1}`).join(", ");
  try {
    const result = await on.query({ text: `select public.${name}(${list}) as result`, values: params });
    return result.rows[0]?.result as T;
  } catch (err) {
    throw toDatabaseError(err);
  }
}

function toDatabaseError(err: unknown): DatabaseError {
  if (err instanceof DatabaseError) return err;
  const e = err as { code?: string; message?: string };
  if (typeof e.code === "string" && /^[0-9A-Z]{5}$/.test(e.code)) {
    return new DatabaseError(codeForSqlState(e.code), e.message ?? "database error", e.code);
  }
  // ECONNREFUSED, ECONNRESET, "Connection terminated unexpectedly", timeouts: the server was not reached.
  return new DatabaseError("transient", e.message ?? String(err));
}

/**
 * Keeps a checked-out client's lost connection from ending the process: a client out of the pool has no
 * pool listener, and an unhandled 'error' event is fatal. The call or stream using the client reports the
 * loss instead. Answers the function that removes the guard, before the client goes back to the pool.
 */
function guardErrors(client: pg.PoolClient): () => void {
  const ignore = () => {};
  client.on("error", ignore);
  return () => client.removeListener("error", ignore);
}

/** The statement that reads in the held snapshot of another connection. */
function importStatement(snapshot: string): string {
  // Written into the statement: only an id as pg_export_snapshot() makes them.
  if (!SNAPSHOT_ID.test(snapshot)) throw new DatabaseError("failed", "invalid snapshot id");
  return `set transaction snapshot '${snapshot}'`;
}

/**
 * PostgreSQL answers "snapshot … does not exist" (42704) to importStatement once the exporting transaction
 * has ended: its connection was lost or terminated, so this is an outage that the next call recovers from
 * (the run starts over), not a bad argument.
 */
function snapshotGone(err: unknown): never {
  // 42704 is also an unknown setting's code: only the snapshot's own error is an outage. It is told by the
  // server function that raised it (ImportSnapshot), which, unlike the message, is the same in every
  // language the server may answer in.
  const { code, routine } = err as { code?: string; routine?: string };
  if (code === "42704" && routine === "ImportSnapshot") {
    throw new DatabaseError("transient", "the backup's held snapshot is gone: its connection ended", "42704");
  }
  throw err;
}

/** A connection in a read-only transaction at a held moment, between two COPYs read there. */
interface Reader {
  client: pg.PoolClient;
  unguard: () => void;
  /** The settings set in its transaction (JSON of them). */
  settings: string;
}

/** A held moment's reader, and whether a COPY streams on it now. */
interface ReaderSlot {
  reader: Reader | null;
  busy: boolean;
}

/**
 * Watches a reader's connection: lost while the reader waits for the next COPY (cut, or stopped by the
 * server), it is dropped at once, so that the next COPY at the moment opens a new reader instead of failing
 * on it, and it no longer holds a place in the pool. Lost while a COPY streams, that COPY fails and drops it.
 * Answers `unguard` that also stops watching.
 */
function dropWhenLost(slot: ReaderSlot, client: pg.PoolClient, unguard: () => void): () => void {
  const lost = () => {
    if (slot.reader?.client !== client || slot.busy) return;
    slot.reader = null;
    client.release(true);
  };
  client.on("end", lost);
  return () => {
    unguard();
    client.removeListener("end", lost);
  };
}

/** Ends the connection's transaction and gives it back to the pool (lost, it is discarded). Never throws. */
async function endTransaction(
  client: pg.PoolClient,
  unguard: () => void,
  how: "commit" | "rollback" = "commit",
): Promise<void> {
  try {
    await client.query(how);
    unguard();
    client.release();
  } catch {
    client.release(true);
  }
}
