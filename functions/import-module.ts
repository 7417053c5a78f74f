/**
 * POST /.netlify/functions/import-module?organization_id=…&module=…[&table=…][&dry_run=true|false]
 *   [&mode=upsert|insert][&upload=<key>], body: the CSV file (Content-Type: text/csv, UTF-8, at most
 *   IMPORT_MAX_BYTES), or no body and `upload`: the key module-upload-url gave, where the file was PUT (at
 *   most IMPORT_UPLOAD_MAX_BYTES; deleted after a real import, kept after a dry run).
 * Imports one table of a module into the organization: a dry run by default (what would be inserted,
 * updated or refused, and why, by the CSV's line), or for real with dry_run=false, in one transaction after
 * an undo point (undo_backup_id: restore it with restore-tenant-data to undo the import). Mode upsert (by
 * primary key, the default) or insert (new rows only). Answers { summary: { would_insert, would_update,
 * unchanged, refused, inserted, updated }, errors: [{ line, column, message }], undo_backup_id }; a real
 * import with a refused row changes nothing and answers 422 with the same report.
 * 400 not CSV, unknown or missing required columns; 413 too large; 415 not text/csv; 409 tenant busy.
 * Cron secret, a super admin, or an admin of that organization.
 */

import { z } from "zod";
import type { ImportReport } from "../lib/api-answers.ts";
import { createdByOf } from "../lib/auth/principal.ts";
import { importModuleCsv } from "../lib/modules/import.ts";
import { readUpload } from "../lib/modules/uploads.ts";
import { endpoint } from "./endpoint.ts";
import { json, readCsvBody } from "./http.ts";
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
    dry_run: trueOrFalse.default(true),
    mode: z.enum(["upsert", "insert"], { error: "must be upsert or insert" }).default("upsert"),
    upload: z.string().max(200, "is longer than 200 characters").optional(),
  })
  .strict();

export const handleImportModule = endpoint({
  name: "import-module",
  methods: ["POST"],
  from: "query",
  input: querySchema,
  access: "organization",
  async run({ input, services, principal, request, deadline }) {
    const { modules } = services.config;
    const csv =
      input.upload === undefined
        ? await readCsvBody(request, modules.importMaxBytes)
        : await readUpload(services, input.organization_id, input.upload, modules.uploadMaxBytes);
    await requireTenant(services, input.organization_id);
    const { module, table } = await moduleAndTable(services, input.module, input.table);
    const outcome = await importModuleCsv(services, {
      tenantId: input.organization_id,
      module: module.name,
      table,
      csv,
      dryRun: input.dry_run,
      mode: input.mode,
      requestedBy: requestedBy(principal),
      createdBy: createdByOf(principal),
      deadline,
    });
    if (input.upload !== undefined && !input.dry_run) {
      await services.storage
        .remove([input.upload])
        .catch((err) => services.log.warn({ err }, "could not delete the imported upload"));
    }
    const body = {
      success: outcome.success,
      organization_id: input.organization_id,
      module: module.name,
      table,
      dry_run: input.dry_run,
      mode: input.mode,
      summary: outcome.summary,
      errors: outcome.errors,
      errors_total: outcome.errors_total,
      undo_backup_id: outcome.undo_backup_id,
    } satisfies ImportReport;
    if (!input.dry_run && !outcome.success) {
      return json(422, {
        ...body,
        error: {
          code: "unprocessable",
          message: `${outcome.summary.refused} row(s) refused or the database refused the import; nothing was changed`,
        },
      });
    }
    return json(200, body);
  },
});
