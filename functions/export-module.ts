/**
 * GET /.netlify/functions/export-module?organization_id=…&module=…[&table=…][&for_spreadsheet=true]
 * One table of a module of the organization as CSV (text/csv; UTF-8; header row of column names; values
 * as PostgreSQL writes them, NULL as an empty field, "" for an empty text), streamed. A module of several
 * tables is exported one table at a time: `table` names it (400 without it). `for_spreadsheet=true`
 * prefixes cells a spreadsheet would run as formulas (=, +, -, @, tab, CR; not plain numbers) with '.
 * Cron secret, a super admin, or an admin of that organization. 404 no such organization or module.
 */
import { z } from "zod";
import { exportModuleCsv } from "../lib/modules/export.ts";
import { endpoint } from "./endpoint.ts";
import {
  moduleAndTable,
  moduleName,
  requestedBy,
  requireTenant,
  tableName,
  trueOrFalse,
} from "./module-schemas.ts";
import { organizationId } from "./organization-id.ts";

const querySchema = z
  .object({
    organization_id: organizationId,
    module: moduleName,
    table: tableName.optional(),
    for_spreadsheet: trueOrFalse.default(false),
  })
  .strict();

export const handleExportModule = endpoint({
  name: "export-module",
  methods: ["GET"],
  from: "query",
  input: querySchema,
  access: "organization",
  async run({ input, services, principal }) {
    await requireTenant(services, input.organization_id);
    const { module, table } = await moduleAndTable(services, input.module, input.table);
    const body = await exportModuleCsv(services, {
      tenantId: input.organization_id,
      module: module.name,
      table,
      guard: input.for_spreadsheet,
      requestedBy: requestedBy(principal),
    });
    const day = services.now().toISOString().slice(0, 10);
    return new Response(body, {
      status: 200,
      headers: {
        "content-type": "text/csv; charset=utf-8",
        "content-disposition": `attachment; filename="${input.organization_id}_${table}_${day}.csv"`,
        "cache-control": "no-store",
      },
    });
  },
});
