/**
 * The database port. Everything the engine asks of the app's database is one of the project's SQL
 * functions (supabase/migrations), each answering jsonb; a backend only knows how to call one. The
 * direct backend calls it over a PostgreSQL connection, the Supabase backend through PostgREST's rpc(),
 * so both paths run exactly the same SQL and differ only in transport.
 */
export interface SqlFunctionCaller {
  /** A short name for logs and the API ("postgres", "supabase"). */
  readonly kind: string;

  /**
   * Calls `public.<name>` with named arguments and answers its jsonb result, parsed. Arguments are
   * JSON-serialisable values, or Buffers holding a text argument's UTF-8 bytes (sent without a copy as a
   * string on a direct connection); `undefined` ones are left out so the function's defaults apply. Throws
   * DatabaseError. One call is one transaction: nothing is retried here (see lib/db/retrying.ts).
   */
  call<T>(name: string, args: Record<string, unknown>, options?: CallOptions): Promise<T>;

  /** Releases connections. Calls after close() fail. */
  close(): Promise<void>;

  /**
   * Only on a direct connection: streams the rows of `query` (a single-column select that one of our
   * functions generated) as `COPY (query) TO STDOUT`, one line per row, each ending in "\n", the text
   * exactly as the select produced it, in a transaction with `settings` (parameters the output text
   * depends on) set locally. Destroying the stream cancels the query and discards the
   * connection. Absent on the PostgREST path, which reads the same rows in pages instead.
   */
  copyOut?(
    query: string,
    settings: Record<string, string>,
    /** Read at this moment of the database (a HeldSnapshot's id) instead of a new one. */
    snapshot?: string,
  ): Promise<NodeJS.ReadableStream & { destroy(error?: Error): void }>;

  /**
   * Only on a direct connection: streams `COPY (query) TO STDOUT` in COPY's text format (values separated
   * by tabs, `\N` for NULL, backslash escapes), one line per row, in a read-only transaction with
   * `settings` set locally, at the moment `snapshot` when given. Destroying the stream cancels the query
   * and discards the connection.
   */
  copyText?(
    query: string,
    settings: Record<string, string>,
    snapshot?: string,
  ): Promise<NodeJS.ReadableStream & { destroy(error?: Error): void }>;

  /**
   * Only on a direct connection: streams the values of `query` (a select of one text column, never null,
   * that one of our functions generated) read through COPY's binary format, each value's bytes exactly as
   * stored followed by "\n", in a read-only transaction with `settings` set locally. Nothing is escaped,
   * so a value holding lines (a stored page) comes out as those lines. Destroying the stream cancels the
   * query and discards the connection.
   */
  copyValues?(
    query: string,
    settings: Record<string, string>,
  ): Promise<NodeJS.ReadableStream & { destroy(error?: Error): void }>;

  /**
   * Only on a direct connection: in one transaction, runs `before` (statements and their parameters), then
   * `statement` (a `COPY … FROM STDIN`) fed with `data`, whose buffers go to the server as they are,
   * never gathered into one message: a page holding MBs is sent without a copy of it.
   */
  copyIn?(
    statement: string,
    data: readonly Uint8Array[],
    before?: { text: string; values: unknown[] }[],
  ): Promise<void>;

  /**
   * Only on a direct connection: streams `COPY (query) TO STDOUT (FORMAT csv, HEADER)`, the bytes exactly
   * as PostgreSQL writes them, in a read-only transaction with `settings` set locally. Destroying the
   * stream cancels the query and discards the connection.
   */
  copyCsv?(
    query: string,
    settings: Record<string, string>,
  ): Promise<NodeJS.ReadableStream & { destroy(error?: Error): void }>;

  /**
   * Only on a direct connection: `VACUUM (SKIP_LOCKED)` of `tables` in one statement (VACUUM runs in no
   * transaction, so never in one of our functions), cut after `timeoutMs`. A table another session holds
   * is skipped.
   */
  vacuum?(tables: readonly { schema: string; name: string }[], timeoutMs: number): Promise<void>;

  /**
   * Only on a direct connection: one moment of the database, held open on a connection of its own (a
   * REPEATABLE READ transaction whose snapshot copyOut can share) until close(). Absent on the PostgREST
   * path, where no transaction outlives a request.
   */
  holdSnapshot?(): Promise<HeldSnapshot>;
}

export interface CallOptions {
  /**
   * Cut the call after this long (SQLSTATE 57014, "transient"). A direct connection sets it on the
   * connection for the call; through PostgREST the function's own statement_timeout applies instead (a
   * request's timeout is set before the call, from the function's settings).
   */
  statementTimeoutMs?: number;
}

export interface HeldSnapshot {
  /** pg_export_snapshot()'s id, for copyOut. */
  readonly id: string;
  /** Calls one of our functions inside the held transaction, at its moment. */
  call<T>(name: string, args: Record<string, unknown>): Promise<T>;
  /**
   * Ends the transaction: commit keeps what call() wrote. Never throws. Closed again, answers the first
   * close's end (and ends nothing more).
   */
  close(commit: boolean): Promise<void>;
}

export type DatabaseErrorCode =
  /** The function raised "no data found" (SQLSTATE P0002): a missing table, tenant or run. */
  | "not_found"
  /** Bad argument (SQLSTATE 22xxx, 42xxx) or anything else the database refused: a bug, never retried. */
  | "failed"
  /**
   * Connection lost, statement timeout or cancel, 5xx, serialization failure or deadlock: safe to retry
   * when the call is (lib/db/retrying.ts decides which calls are).
   */
  | "transient"
  /** Credentials refused. */
  | "unauthorized";

export class DatabaseError extends Error {
  constructor(
    readonly code: DatabaseErrorCode,
    message: string,
    readonly sqlState?: string,
  ) {
    super(message);
    this.name = "DatabaseError";
  }
}

/** Classifies a SQLSTATE the way both backends must. */
export function codeForSqlState(sqlState: string | undefined): DatabaseErrorCode {
  if (!sqlState) return "failed";
  if (sqlState === "P0002") return "not_found";
  if (sqlState === "28P01" || sqlState === "28000" || sqlState === "42501") return "unauthorized";
  // Serialization failure, deadlock, statement timeout or cancel (57014: over PostgREST, the
  // authenticator's 8 s), connection exceptions, admin shutdown, too many connections.
  if (["40001", "40P01", "57014", "57P01", "57P02", "57P03", "53300"].includes(sqlState)) return "transient";
  if (sqlState.startsWith("08")) return "transient";
  return "failed";
}
