/**
 * Shared by the module tests: the restore-app schema (workspaces, contacts, deals, deal_notes) with a
 * "crm" module of contacts and deals, and calls of the module endpoints with the cron secret.
 */
import { vi } from "vitest";
import { handleExportModule } from "../../functions/export-module.ts";
import { handleImportModule } from "../../functions/import-module.ts";
import type { Services } from "../../lib/services.ts";
import { APP_ENV } from "../restore/app.ts";
import { call, send } from "../support/call.ts";
import type { TestDatabase } from "../support/database.ts";
import { TEST_CRON_SECRET } from "../support/services.ts";

export const MODULE_ENV = { ...APP_ENV, MODULES: "crm:contacts,deals" };

export function exportCsv(services: Services, query: Record<string, string>) {
  return send(handleExportModule, services, "export-module", { token: TEST_CRON_SECRET, query });
}

/**
 * Exports with the closing of its backup_logs row slowed by `ms`, and answers that row as read the moment
 * the client has the last byte: a row closed only after the stream ended would still say "running".
 */
export async function exportWithSlowLog(
  services: Services,
  db: TestDatabase,
  query: Record<string, string>,
  ms = 300,
) {
  const finishLog = services.db.finishLog.bind(services.db);
  const spy = vi.spyOn(services.db, "finishLog").mockImplementation(async (...args) => {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return finishLog(...args);
  });
  try {
    const answer = await exportCsv(services, query);
    const { rows } = await db.client.query(
      "select status, records_count from backup_logs where backup_type = 'module_export' order by id desc limit 1",
    );
    return { answer, log: rows[0] };
  } finally {
    spy.mockRestore();
  }
}

export function importCsv(
  services: Services,
  query: Record<string, string>,
  csv: string | Uint8Array,
  contentType = "text/csv",
) {
  return call(handleImportModule, services, "import-module", {
    token: TEST_CRON_SECRET,
    query,
    rawBody: csv as string,
    headers: { "content-type": contentType },
  });
}
