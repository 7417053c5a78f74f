/**
 * GET /.netlify/functions/validate-tenant-data?organization_id=…[&format=json|csv]
 * Checks the tenant's rows against every enabled validation rule, one query per rule inside the database:
 *   json → { success, organization_id, summary: { rules, failed, violations, errors, checked_at },
 *            results: [{ rule_id, table, column, kind, params, violations, sample_keys, message, error? }] }
 *   csv  → the results as text/csv for spreadsheets (lib/validation/csv.ts).
 * Cron secret, a super admin, or an admin of that organization.
 */
import { z } from "zod";
import type { ValidationAnswer } from "../lib/api-answers.ts";
import { fail } from "../lib/errors.ts";
import { utcDay } from "../lib/time.ts";
import { validateTenant } from "../lib/validation/check.ts";
import { reportCsv } from "../lib/validation/csv.ts";
import { endpoint } from "./endpoint.ts";
import { json } from "./http.ts";
import { organizationId } from "./organization-id.ts";

export const handleValidateTenantData = endpoint({
  name: "validate-tenant-data",
  methods: ["GET"],
  from: "query",
  input: z
    .object({
      organization_id: organizationId,
      format: z.enum(["json", "csv"], { error: "must be json or csv" }).default("json"),
    })
    .strict(),
  access: "organization",
  async run({ input, services, deadline }) {
    if (!(await services.db.getTenant(input.organization_id))) {
      throw fail("not_found", `no organization ${input.organization_id}`, { field: "organization_id" });
    }
    const report = await validateTenant(services, input.organization_id, { deadline });
    if (input.format === "csv") {
      const day = utcDay(services.now());
      return new Response(reportCsv(report), {
        status: 200,
        headers: {
          "content-type": "text/csv; charset=utf-8",
          "content-disposition": `attachment; filename="validation-${input.organization_id}-${day}.csv"`,
          "cache-control": "no-store",
        },
      });
    }
    return json(200, {
      success: true,
      organization_id: input.organization_id,
      ...report,
    } satisfies ValidationAnswer);
  },
});
