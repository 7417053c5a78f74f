/**
 * The direct database backend: a pg connection pool (DATABASE_URL). Calls `select public.fn(p_a => $1, …)`.
 */
import pg from "pg";
import { to as copyTo } from "pg-copy-streams";
import { codeForSqlState, DatabaseError, type SqlFunctionCaller } from "./port.ts";

const NAME = /^[a-z_][a-z0-9_]*$/;

export class PostgresCaller implements SqlFunctionCaller {
  readonly kind = "postgres";
  readonly pool: pg.Pool;

  constructor(connectionString: string, options: { max?: number } = {}) {
    this.pool = new pg.Pool({ connectionString, max: options.max ?? 4 });
    // An idle client that loses its connection must not crash the process; the next call reconnects.
    this.pool.on("error", () => {});
  }

  async call<T>(name: string, args: Record<string, unknown>): Promise<T> {
    if (!NAME.test(name)) throw new DatabaseError("failed", `invalid function name ${name}`);
    const entries = Object.entries(args).filter(([, value]) => value !== undefined);
    for (const [key] of entries) {
      if (!NAME.test(key)) throw new DatabaseError("failed", `invalid argument name ${key}`);
    }
    const params = entries.map(([, value]) =>
      value !== null && typeof value === "object" ? JSON.stringify(value) : value,
    );
    const list = entries.map(([key], i) => `${key} => $${i + 1}`).join(", ");
    try {
      const result = await this.pool.query({
        text: `select public.${name}(${list}) as result`,
        values: params,
      });
      return result.rows[0]?.result as T;
    } catch (err) {
      throw toDatabaseError(err);
    }
  }

  async copyOut(
    query: string,
    settings: Record<string, string>,
  ): Promise<NodeJS.ReadableStream & { destroy(error?: Error): void }> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw toDatabaseError(err);
    }
    try {
      await client.query("begin isolation level repeatable read read only");
      for (const [name, value] of Object.entries(settings)) {
        await client.query("select set_config($1, $2, true)", [name, value]);
      }
    } catch (err) {
      client.release(true);
      throw toDatabaseError(err);
    }
    // CSV with a quote and a delimiter that never occur in our lines (JSON escapes control characters):
    // each line comes out exactly as the select made it. Text format would double every backslash.
    const stream = client.query(
      copyTo(`copy (${query}) to stdout with (format csv, quote e'\\x01', delimiter e'\\x02')`),
    );
    let released = false;
    const release = (broken: boolean) => {
      if (released) return;
      released = true;
      // A COPY stopped half way leaves the connection mid-protocol: never hand it to the next caller.
      if (broken) client.release(true);
      else
        client.query("commit").then(
          () => client.release(),
          () => client.release(true),
        );
    };
    stream.on("end", () => release(false));
    stream.on("error", () => release(true));
    stream.on("close", () => release(!stream.readableEnded));
    return stream;
  }

  async close(): Promise<void> {
    await this.pool.end();
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
