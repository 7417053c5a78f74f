/**
 * Shared by the module tests: the restore-app schema (workspaces, contacts, deals, deal_notes) with a
 * "crm" module of contacts and deals, and calls of the module endpoints with the cron secret.
 */
import { handleExportModule } from "../../functions/export-module.ts";
import { handleImportModule } from "../../functions/import-module.ts";
import type { Services } from "../../lib/services.ts";
import { APP_ENV } from "../restore/app.ts";
import { call, send } from "../support/call.ts";
import { TEST_CRON_SECRET } from "../support/services.ts";

export const MODULE_ENV = { ...APP_ENV, MODULES: "crm:contacts,deals" };

export function exportCsv(services: Services, query: Record<string, string>) {
  return send(handleExportModule, services, "export-module", { token: TEST_CRON_SECRET, query });
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
