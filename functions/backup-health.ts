/**
 * GET /.netlify/functions/backup-health[?organization_id=…]
 * The age of each tenant's newest completed backup. 200 when every scheduled tenant has one younger than
 * its schedule allows (HEALTH_MAX_AGE_HOURS, default 26, for a daily schedule; 50 h every 2 days; 170 h
 * weekly: lib/health.ts); 503 when any is older or has none, so an uptime monitor alerts on the status
 * alone. Tenants whose schedule is off or disabled are listed as "unscheduled" and do not count.
 * Each call also tells the alert channels of tenants that became stale or fresh again (tenant.stale) and,
 * for a report of every tenant, of storage past STORAGE_WARN_RATIO (storage.quota): lib/alerts/watch.ts.
 * Who: the cron secret (as a header, or ?secret= for monitors that can only set a URL) or a super admin
 * for every tenant; with organization_id, also an admin of that organization.
 */
import { z } from "zod";
import { watchHealth } from "../lib/alerts/watch.ts";
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
    await watchHealth(services, report, { allTenants: query.organization_id === undefined });
    if (report.healthy) {
      return json(200, {
        success: true,
        message: `all ${report.ok_tenants} scheduled tenants have a backup younger than their schedule allows`,
        ...report,
      });
    }
    return json(503, {
      success: false,
      error: {
        code: "unavailable",
        message: `${report.stale_tenants} tenants have only backups older than their schedule allows, ${report.missing_tenants} have none`,
      },
      ...report,
    });
  },
});
