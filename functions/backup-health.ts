/**
 * GET /.netlify/functions/backup-health[?organization_id=…]
 * The age of each tenant's newest completed backup. 200 when every tenant has one younger than
 * HEALTH_MAX_AGE_HOURS (default 26: a daily run plus slack); 503 when any is older or has none, so an
 * uptime monitor alerts on the status alone.
 * Who: the cron secret (as a header, or ?secret= for monitors that can only set a URL) or a super admin
 * for every tenant; with organization_id, also an admin of that organization.
 */
import { z } from "zod";
import type { Tenant } from "../lib/db/tenant-db.ts";
import { fail } from "../lib/errors.ts";
import { backupHealth } from "../lib/health.ts";
import { endpoint } from "./endpoint.ts";
import { json } from "./http.ts";
import { organizationId } from "./organization-id.ts";

export const handleBackupHealth = endpoint({
  name: "backup-health",
  methods: ["GET"],
  from: "query",
  input: z.object({ organization_id: organizationId.optional() }).strict(),
  access: "organization",
  async run({ input: query, services }) {
    let tenants: Tenant[];
    if (query.organization_id === undefined) {
      tenants = await services.db.listTenants();
    } else {
      const tenant = await services.db.getTenant(query.organization_id);
      if (!tenant) {
        throw fail("not_found", `no organization ${query.organization_id}`, { field: "organization_id" });
      }
      tenants = [tenant];
    }
    const report = await backupHealth(services, tenants, query.organization_id);
    if (report.healthy) {
      return json(200, {
        success: true,
        message: `all ${report.total_tenants} tenants have a backup younger than ${report.max_age_hours} h`,
        ...report,
      });
    }
    return json(503, {
      success: false,
      error: {
        code: "unavailable",
        message: `${report.stale_tenants} tenants have only backups older than ${report.max_age_hours} h, ${report.missing_tenants} have none`,
      },
      ...report,
    });
  },
});
