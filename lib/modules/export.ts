/**
 * A module's table of one tenant as CSV, streamed: never the whole table in memory.
 *
 * - Direct connection: PostgreSQL writes the CSV itself, `COPY (…) TO STDOUT (FORMAT csv, HEADER)`, in one
 *   read-only transaction (one moment of the data), and the bytes go out as they come.
 * - Through PostgREST: pages of BACKUP_PAGE_ROWS rows in primary-key order (each page its own moment),
 *   written here with COPY's own rules (csv.ts), so that both paths produce the same bytes.
 *
 * `guard` (the "for spreadsheets" export) prefixes cells a spreadsheet would run as a formula with an
 * apostrophe; it is done in the database (tenant_backup_module_guard) on both paths. The export is one
 * backup_logs row, "module_export": opened when the stream starts, closed with the rows sent before the
 * stream ends (failed when it breaks off or the client goes away). Closed before, not after: the client
 * has the whole file as soon as the stream ends, and the function may be stopped then.
 */
import { storedColumns } from "../catalog.ts";
import { errorMessage } from "../errors.ts";
import type { Services } from "../services.ts";
import { csvLine } from "./csv.ts";
import { csvQuery, modulePage } from "./module-db.ts";

/**
 * Rows per page of a CSV export through the Supabase API (or BACKUP_PAGE_ROWS when lower): its pages have
 * no bound in bytes, so they stay at the 1,000 rows they always had.
 */
const CSV_PAGE_ROWS = 1000;

export interface ModuleExport {
  tenantId: string;
  module: string;
  table: string;
  guard: boolean;
  /** Who asked, for backup_logs: "cron", or the user's e-mail or id. */
  requestedBy: string;
}

export async function exportModuleCsv(
  services: Services,
  request: ModuleExport,
): Promise<ReadableStream<Uint8Array>> {
  const { db } = services;
  const catalog = await db.catalog();
  const table = catalog.tables.find((t) => t.name === request.table);
  if (!table) throw new Error(`${request.table} is not a tenant table`);
  const logId = await db.log({
    organization_id: request.tenantId,
    backup_type: "module_export",
    status: "running",
    tables_count: 1,
    details: {
      module: request.module,
      table: request.table,
      for_spreadsheet: request.guard,
      requested_by: request.requestedBy,
    },
  });
  const finish = (rows: number, error: string | null) =>
    db
      .finishLog(logId, {
        status: error === null ? "completed" : "failed",
        records: rows,
        error,
        details: {
          module: request.module,
          table: request.table,
          for_spreadsheet: request.guard,
          requested_by: request.requestedBy,
        },
      })
      .catch((err) => services.log.warn({ err }, "could not record the module export"));

  if (db.caller.copyCsv) {
    const { query, settings } = await csvQuery(db, {
      planId: catalog.plan_id,
      table: request.table,
      tenantId: request.tenantId,
      guard: request.guard,
    });
    const source = await db.caller.copyCsv(query, settings);
    return countedStream(source, finish);
  }

  const names = storedColumns(table).map((c) => c.name);
  const encoder = new TextEncoder();
  let after: string[] | null = null;
  let header = true;
  let rows = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        if (header) {
          header = false;
          controller.enqueue(encoder.encode(csvLine(names)));
          return;
        }
        const page = await modulePage(db, {
          planId: catalog.plan_id,
          table: request.table,
          tenantId: request.tenantId,
          after,
          limit: Math.min(services.config.backup.pageRows, CSV_PAGE_ROWS),
          guard: request.guard,
        });
        if (page.rows > 0) {
          const text = page.data
            .split("\n")
            .map((line) => csvLine(JSON.parse(line) as (string | null)[]))
            .join("");
          controller.enqueue(encoder.encode(text));
          rows += page.rows;
          after = page.last_key;
        }
        if (page.done || page.rows === 0) {
          await finish(rows, null);
          controller.close();
        }
      } catch (err) {
        await finish(rows, errorMessage(err));
        controller.error(err);
      }
    },
    async cancel() {
      await finish(rows, "the client stopped reading");
    },
  });
}

/**
 * COPY's bytes as a web stream, counting records as they pass: a line end outside quotes ends one (a
 * quote toggles "inside"; a doubled quote toggles twice). The header is not a row.
 */
function countedStream(
  source: NodeJS.ReadableStream & { destroy(error?: Error): void },
  finish: (rows: number, error: string | null) => Promise<unknown>,
): ReadableStream<Uint8Array> {
  let records = 0;
  let inside = false;
  const iterator = source[Symbol.asyncIterator]();
  const rows = () => Math.max(records - 1, 0);
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { value, done } = await iterator.next();
        if (done) {
          await finish(rows(), null);
          controller.close();
          return;
        }
        const bytes = value as Buffer;
        for (const byte of bytes) {
          if (byte === 0x22) inside = !inside;
          else if (byte === 0x0a && !inside) records += 1;
        }
        controller.enqueue(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      } catch (err) {
        await finish(rows(), errorMessage(err));
        controller.error(err);
      }
    },
    async cancel() {
      source.destroy();
      await finish(rows(), "the client stopped reading");
    },
  });
}
