/**
 * GET /.netlify/functions/list-modules?organization_id=…
 * The modules (MODULES' named groups of tenant tables, then every other tenant table as a module of its
 * own) with the organization's record count in each: { modules: [{ name, tables, records }] }.
 * Cron secret, a super admin, or an admin of that organization. 404 no such organization.
 */
import { z } from "zod";
import type { ModuleList } from "../lib/api-answers.ts";
import { moduleCounts } from "../lib/modules/module-db.ts";
import { endpoint } from "./endpoint.ts";
import { json } from "./http.ts";
import { listModules, requireTenant } from "./module-schemas.ts";
import { organizationId } from "./organization-id.ts";

const querySchema = z.object({ organization_id: organizationId }).strict();

export const handleListModules = endpoint({
  name: "list-modules",
  methods: ["GET"],
  from: "query",
  input: querySchema,
  access: "organization",
  async run({ input, services }) {
    await requireTenant(services, input.organization_id);
    const { modules, planId } = await listModules(services);
    const counts = await moduleCounts(
      services.db,
      planId,
      input.organization_id,
      modules.flatMap((m) => m.tables),
    );
    return json(200, {
      success: true,
      organization_id: input.organization_id,
      modules: modules.map((m) => ({
        name: m.name,
        tables: m.tables.map((t) => ({ name: t, records: Number(counts[t] ?? 0) })),
        records: m.tables.reduce((n, t) => n + Number(counts[t] ?? 0), 0),
      })),
    } satisfies ModuleList);
  },
});
