/**
 * Where a table's rows come from during a backup, page by page. Two sources give the very same pages:
 * the PostgREST path asks the database for each page (tenant_backup_export_page); a direct connection
 * streams the same select once through COPY and cuts it into pages by the same rule, which saves a
 * query plan and a round trip per page. Either way a page is at most `limit` rows, and ends with the
 * first row whose text starts at or after `maxBytes` — at least one row.
 */
import { StringDecoder } from "node:string_decoder";
import type { CatalogTable } from "../catalog.ts";
import { storedColumns } from "../catalog.ts";
import type { ExportPage, TenantDb } from "../db/tenant-db.ts";

export interface RowSource {
  next(maxBytes: number): Promise<ExportPage>;
  /** Stops reading; a stream is cancelled. */
  close(): void;
}

interface SourceArgs {
  planId: string;
  table: CatalogTable;
  tenantId: string;
  after: string[] | null;
  limit: number;
}

export async function openRowSource(db: TenantDb, args: SourceArgs): Promise<RowSource> {
  // Streams need the key in each line to say where a page ends; a table without one is paged by ctid.
  if (db.canStream && args.table.primary_key) return streamedSource(db, args);
  return pagedSource(db, args);
}

function pagedSource(db: TenantDb, args: SourceArgs): RowSource {
  let after = args.after;
  return {
    async next(maxBytes) {
      const page = await db.exportPage({
        planId: args.planId,
        table: args.table.name,
        tenantId: args.tenantId,
        after,
        limit: args.limit,
        maxBytes,
      });
      if (page.last_key) after = page.last_key;
      return page;
    },
    close() {},
  };
}

async function streamedSource(db: TenantDb, args: SourceArgs): Promise<RowSource> {
  const stream = await db.exportStream({
    planId: args.planId,
    table: args.table.name,
    tenantId: args.tenantId,
    after: args.after,
  });
  const names = storedColumns(args.table).map((c) => c.name);
  const keyAt = (args.table.primary_key ?? []).map((k) => names.indexOf(k));
  const chunks = stream[Symbol.asyncIterator]();
  const decoder = new StringDecoder("utf8");
  let pending: string[] = [];
  let partial = "";
  let ended = false;

  /** Makes at least one complete line available, unless the stream has ended. */
  async function fill(): Promise<void> {
    while (pending.length === 0 && !ended) {
      const { value, done } = await chunks.next();
      if (done) {
        ended = true;
        partial += decoder.end();
        if (partial !== "") throw new Error(`export of ${args.table.name} ended inside a line`);
        return;
      }
      const text = partial + decoder.write(value as Buffer);
      const lines = text.split("\n");
      partial = lines.pop() ?? "";
      pending = lines;
    }
  }

  return {
    async next(maxBytes) {
      const taken: string[] = [];
      let bytes = 0;
      while (taken.length < args.limit && (taken.length === 0 || bytes < maxBytes)) {
        await fill();
        const line = pending.shift();
        if (line === undefined) break;
        taken.push(line);
        bytes += Buffer.byteLength(line) + 1;
      }
      // Done as the paged read would say it: fewer rows than the limit, and nothing left after them.
      if (taken.length < args.limit) await fill();
      const done = taken.length < args.limit && pending.length === 0 && ended;
      const last = taken.at(-1);
      const row = last === undefined ? null : (JSON.parse(last) as (string | null)[]);
      return {
        rows: taken.length,
        bytes,
        data: taken.join("\n"),
        last_key: row ? keyAt.map((i) => row[i] as string) : null,
        done,
      };
    },
    close() {
      if (!ended) (stream as unknown as { destroy(): void }).destroy();
    },
  };
}
