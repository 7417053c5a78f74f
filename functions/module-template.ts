/**
 * GET /.netlify/functions/module-template?module=…[&table=…][&organization_id=…][&format=json|csv]
 * What a CSV for one table of a module must hold: JSON { table, header, columns: [{ name, type, required,
 * primary_key, tenant_key, has_default, references, allowed_values, checks, example }] }, or with
 * format=csv the header row alone, as a file to fill in. It describes the schema, not any tenant's data:
 * the cron secret or a super admin, or an organization's admin naming that organization_id.
 */
import { z } from "zod";
import type { ModuleTemplateAnswer } from "../lib/api-answers.ts";
import { moduleTemplate } from "../lib/modules/template.ts";
import { endpoint } from "./endpoint.ts";
import { json } from "./http.ts";
import { moduleAndTable, moduleName, tableName } from "./module-schemas.ts";
import { organizationId } from "./organization-id.ts";

const querySchema = z
  .object({
    module: moduleName,
    table: tableName.optional(),
    organization_id: organizationId.optional(),
    format: z.enum(["json", "csv"], { error: "must be json or csv" }).default("json"),
  })
  .strict();

export const handleModuleTemplate = endpoint({
  name: "module-template",
  methods: ["GET"],
  from: "query",
  input: querySchema,
  access: "organization",
  async run({ input, services }) {
    const { module, table } = await moduleAndTable(services, input.module, input.table);
    const template = await moduleTemplate(services, table);
    if (input.format === "csv") {
      return new Response(template.header, {
        status: 200,
        headers: {
          "content-type": "text/csv; charset=utf-8",
          "content-disposition": `attachment; filename="${table}_template.csv"`,
          "cache-control": "no-store",
        },
      });
    }
    return json(200, { success: true, module: module.name, ...template } satisfies ModuleTemplateAnswer);
  },
});
