/**
 * A CSV imported into one table of a module of one tenant.
 *
 * 1. The file is read here (csv.ts): not UTF-8 text, not CSV, an unknown, generated or repeated column, or
 *    a required column missing: 400 naming it, before anything else. A row with the wrong number of fields
 *    is refused (its line is named).
 * 2. Under the tenant's lease, the rows are staged in pages (tenant_backup_stage), then
 *    tenant_backup_module_import checks every row set-based and, for a real import none of whose rows is
 *    refused, writes them in one transaction after capturing the tenant's rows as an undo point — as a
 *    restore does. The table's validation rules run in that transaction after the writes (rules-hook.ts):
 *    a row of the file that breaks one is refused, and the writes are rolled back. A dry run reports what
 *    would happen and changes nothing.
 * 3. The undo point is stored as the tenant's pre_restore backup (its id is undo_backup_id): restoring it
 *    with restore-tenant-data (backup_id, tables = the module's tables) undoes the import.
 *
 * The organization is always the caller's: the tenant key column is filled with it (a row naming another
 * organization is refused), a primary key of another tenant's row is refused, and a row of a child table
 * must point at this tenant's parent row. The import is one backup_logs row, "module_import".
 */

import { randomUUID } from "node:crypto";
import type { CreatedBy } from "../auth/principal.ts";
import { dayOfBackupId } from "../backup/paths.ts";
import { backupTenant } from "../backup/tenant-backup.ts";
import { withCaptureId } from "../backup/unused-id.ts";
import { type CatalogTable, storedColumns } from "../catalog.ts";
import { DatabaseError } from "../db/port.ts";
import { AppError, errorMessage, fail } from "../errors.ts";
import { takeLease } from "../lease.ts";
import { analyzeStaleTables } from "../restore/stale-statistics.ts";
import type { Services } from "../services.ts";
import { type CsvRecord, CsvSyntaxError, parseCsv } from "./csv.ts";
import { applyImport, type ImportAnswer } from "./module-db.ts";
import { type ImportRowError, importRules } from "./rules-hook.ts";

export interface ModuleImport {
  tenantId: string;
  module: string;
  table: string;
  csv: Uint8Array;
  dryRun: boolean;
  mode: "upsert" | "insert";
  requestedBy: string;
  /** Who asked, as the import's backup_logs row and its undo point keep it. */
  createdBy?: CreatedBy;
  deadline: number;
}

export interface ImportOutcome extends Omit<ImportAnswer, "errors"> {
  errors: ImportRowError[];
  undo_backup_id: string | null;
}

/** Rows and bytes per staging call: bounded request bodies on the PostgREST path. */
const STAGE_ROWS = 5000;
const STAGE_BYTES = 2 * 1024 * 1024;
/** The apply is one call that cannot renew the lease: 15 minutes, Netlify's longest function. */
const APPLY_LEASE_SECONDS = 900;

export async function importModuleCsv(services: Services, request: ModuleImport): Promise<ImportOutcome> {
  const { db, log } = services;
  const catalog = await db.catalog();
  const table = catalog.tables.find((t) => t.name === request.table) as CatalogTable;
  const { columns, rows } = readCsv(request.csv, table, table.anchor === "key" ? catalog.key : null);

  const refusedHere: ImportRowError[] = [];
  const staged: string[] = [];
  for (const row of rows) {
    if (row.fields.length !== columns.length) {
      refusedHere.push({
        line: row.line,
        column: null,
        message: `has ${row.fields.length} fields; the header has ${columns.length}`,
      });
    }
  }
  const refusedLines = new Set(refusedHere.map((e) => e.line));
  for (const row of rows) {
    if (!refusedLines.has(row.line)) staged.push(JSON.stringify([row.line, ...row.fields]));
  }
  const rules = await importRules(services, catalog, request.table);
  // A refused row stops a real import: the database then only reports (a dry run) and nothing changes.
  const dryRun = request.dryRun || refusedHere.length > 0;

  const lease = await takeLease(services, request.tenantId, request.dryRun ? "import:dry_run" : "import");
  const importId = randomUUID().replaceAll("-", "");
  const details = {
    module: request.module,
    table: request.table,
    mode: request.mode,
    requested_by: request.requestedBy,
  };
  let logId: number | undefined;
  let applied = false;
  try {
    logId = await db.log({
      organization_id: request.tenantId,
      backup_type: "module_import",
      status: "running",
      dry_run: request.dryRun,
      tables_count: 1,
      details,
      created_by: request.createdBy ?? null,
    });
    await stage(services, importId, request.table, staged);
    await lease.renew(Math.max(services.config.backup.lockTtlSeconds, APPLY_LEASE_SECONDS));
    // Planned on statistics that count the tenant's rows as they are (see stale-statistics.ts).
    await analyzeStaleTables(services, catalog.plan_id, [request.table], { importId });
    const tenantName = dryRun ? null : ((await db.getTenant(request.tenantId))?.name ?? null);
    const openLog = logId;
    const apply = (captureId: string) =>
      applyImport(db, {
        importId,
        planId: catalog.plan_id,
        tenantId: request.tenantId,
        table: request.table,
        columns,
        mode: request.mode,
        dryRun,
        logId: openLog,
        holder: lease.holder,
        captureId,
        details,
        rules,
        now: services.now(),
      }).catch(applyFailure(request.tenantId));
    // The apply claims the undo point's id: taken, it changes nothing and runs again under another.
    const { captureId, result: answer } = await withCaptureId(
      services,
      "an import's undo point",
      dryRun,
      apply,
    );
    applied = true;

    const errors = [...refusedHere, ...answer.errors].sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
    const outcome: ImportOutcome = {
      ...answer,
      success: answer.success && refusedHere.length === 0,
      dry_run: request.dryRun,
      summary: { ...answer.summary, refused: answer.summary.refused + refusedLines.size },
      errors,
      errors_total: answer.errors_total + refusedHere.length,
      undo_backup_id: null,
    };
    if (outcome.success && captureId !== null) {
      outcome.undo_backup_id = captureId;
      const undo = await backupTenant(services, {
        tenantId: request.tenantId,
        tenantName,
        type: "pre_restore",
        date: dayOfBackupId(captureId),
        deadline: request.deadline,
        captureId,
        createdBy: request.createdBy,
        note: `undo point of the ${request.module} import`,
      }).catch((err) => {
        log.error(
          { err, tenant: request.tenantId, captureId },
          "could not store the import's undo point yet",
        );
        return null;
      });
      if (undo?.status !== "completed") {
        outcome.errors.push({
          line: null,
          column: null,
          message: `the undo point ${captureId} is captured but not yet stored as a backup; the tenant's next restore stores it first`,
        });
      }
    }
    return outcome;
  } catch (err) {
    if (!applied && logId !== undefined) {
      await db
        .finishLog(logId, {
          status: "failed",
          records: 0,
          error: errorMessage(err),
          details: { ...details, code: err instanceof AppError ? err.code : "internal" },
        })
        .catch((e) => log.error({ err: e }, "could not record the failed import"));
    }
    throw err;
  } finally {
    // The apply clears its staging and frees the lease in its own transaction; this is for a failure before.
    if (!applied) {
      await db.clearRestoreStage(importId).catch((err) => log.warn({ err }, "could not clear staged rows"));
    }
    await lease.release();
  }
}

/** The header checked against the table, and the records after it. 400 naming what is wrong. */
function readCsv(
  bytes: Uint8Array,
  table: CatalogTable,
  tenantKey: string | null,
): { columns: string[]; rows: CsvRecord[] } {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw fail("bad_request", "body: is not UTF-8 text, so not a CSV file this import reads", {
      field: "body",
    });
  }
  if (text.includes("\u0000"))
    throw fail("bad_request", "body: holds NUL bytes: not a CSV file", { field: "body" });
  let records: CsvRecord[];
  try {
    records = [...parseCsv(text)];
  } catch (err) {
    if (err instanceof CsvSyntaxError) {
      throw fail("bad_request", `body: is not valid CSV: ${err.message}`, { field: "body", line: err.line });
    }
    throw err;
  }
  const [header, ...rows] = records;
  if (!header)
    throw fail("bad_request", "body: is empty; the first line must name the columns", { field: "body" });
  const columns = header.fields.map((f) => f ?? "");
  const stored = storedColumns(table);
  const generated = table.columns.filter((c) => c.generated).map((c) => c.name);
  const unknown = columns.filter((c) => !stored.some((s) => s.name === c));
  if (unknown.length > 0) {
    const computed = unknown.filter((c) => generated.includes(c));
    throw fail(
      "bad_request",
      `body: unknown column${unknown.length > 1 ? "s" : ""} ${unknown.map((c) => JSON.stringify(c)).join(", ")} ` +
        `for ${table.name}${computed.length > 0 ? ` (${computed.join(", ")} computed by the database)` : ""}; ` +
        `its columns are ${stored.map((s) => s.name).join(", ")}`,
      { field: "body", columns: unknown },
    );
  }
  const repeated = columns.filter((c, i) => columns.indexOf(c) !== i);
  if (repeated.length > 0) {
    throw fail("bad_request", `body: column ${repeated[0]} appears twice in the header`, { field: "body" });
  }
  const missing = stored
    .filter((c) => c.not_null && !c.has_default && c.identity === null && c.name !== tenantKey)
    .map((c) => c.name)
    .filter((c) => !columns.includes(c));
  if (missing.length > 0) {
    throw fail(
      "bad_request",
      `body: required column${missing.length > 1 ? "s" : ""} missing: ${missing.join(", ")}`,
      {
        field: "body",
        columns: missing,
      },
    );
  }
  return { columns, rows };
}

async function stage(services: Services, importId: string, table: string, lines: string[]): Promise<void> {
  let page = 0;
  let start = 0;
  while (start < lines.length) {
    let end = start;
    let bytes = 0;
    while (end < lines.length && end - start < STAGE_ROWS && (end === start || bytes < STAGE_BYTES)) {
      bytes += Buffer.byteLength(lines[end] as string) + 1;
      end += 1;
    }
    await services.db.stageRestorePage({
      restoreId: importId,
      table,
      page,
      rows: end - start,
      lines: lines.slice(start, end).join("\n"),
    });
    page += 1;
    start = end;
  }
}

function applyFailure(tenantId: string) {
  return (err: unknown): never => {
    if (err instanceof DatabaseError && err.sqlState === "57014") {
      throw fail(
        "unavailable",
        `the import into ${tenantId} ran past the database's statement timeout and was cancelled; nothing was changed`,
        { reason: "statement_timeout" },
      );
    }
    if (err instanceof DatabaseError && err.sqlState === "55P03") {
      throw fail(
        "unavailable",
        `the import into ${tenantId} could not lock the table against the app's writes in time; nothing was changed: try again`,
        { reason: "tables_busy" },
      );
    }
    throw err;
  };
}
