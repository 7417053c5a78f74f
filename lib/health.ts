/**
 * How fresh each tenant's newest completed backup is, from the database's run records (cheap enough for
 * an uptime monitor polling every minute; storage is not listed). A tenant is "stale" when its newest
 * backup is older than its schedule allows, "missing" when it has none (a tenant created since the
 * last scheduled run counts as missing until the next one: back it up when it is created to avoid that).
 *
 * What a schedule allows: HEALTH_MAX_AGE_HOURS (26: a day and some slack) for a daily schedule, and as
 * many more days as its slots are further apart: 50 h for every_2_days, 170 h for weekly. A tenant whose
 * schedule is off or disabled is "unscheduled": nobody expects a backup of it, so it does not make the
 * report unhealthy. The report also says how much storage the backups use (lib/usage.ts): one listing.
 */
import type { HealthReport, TenantHealth } from "./api-answers.ts";
import type { Tenant } from "./db/tenant-db.ts";
import { periodDays } from "./schedule/slots.ts";
import { effectiveSchedule } from "./schedule/tenant-schedule.ts";
import type { Services } from "./services.ts";
import { storageUsage } from "./usage.ts";

export async function backupHealth(
  services: Services,
  tenants: Tenant[],
  tenantId?: string,
): Promise<HealthReport> {
  const now = services.now();
  const maxAgeHours = services.config.health.maxAgeHours;
  const [backups, schedules, usage] = await Promise.all([
    services.db.newestCompletedBackups(tenantId),
    services.db.listSchedules(),
    storageUsage(services, tenantId),
  ]);
  const newest = new Map(backups.map((b) => [b.organization_id, b]));
  const scheduleRows = new Map(schedules.map((row) => [row.organization_id, row]));
  const rows: TenantHealth[] = tenants.map((tenant) => {
    const backup = newest.get(tenant.id);
    const period = periodDays(
      effectiveSchedule(scheduleRows.get(tenant.id) ?? null, services.config.schedule.default),
    );
    const allowedHours = period === null ? null : maxAgeHours + (period - 1) * 24;
    if (!backup) {
      return {
        organization_id: tenant.id,
        organization_name: tenant.name,
        status: allowedHours === null ? "unscheduled" : "missing",
        max_age_hours: allowedHours,
        backup_id: null,
        backup_type: null,
        backup_date: null,
        completed_at: null,
        age_hours: null,
      };
    }
    const ageHours = (now.getTime() - Date.parse(backup.completed_at)) / 3_600_000;
    return {
      organization_id: tenant.id,
      organization_name: tenant.name,
      status: allowedHours === null ? "unscheduled" : ageHours > allowedHours ? "stale" : "ok",
      max_age_hours: allowedHours,
      backup_id: backup.backup_id,
      backup_type: backup.backup_type,
      backup_date: backup.backup_date,
      completed_at: backup.completed_at,
      age_hours: Math.round(ageHours * 100) / 100,
    };
  });
  const count = (status: TenantHealth["status"]) => rows.filter((r) => r.status === status).length;
  return {
    healthy: count("stale") + count("missing") === 0,
    checked_at: now.toISOString(),
    max_age_hours: maxAgeHours,
    total_tenants: rows.length,
    ok_tenants: count("ok"),
    stale_tenants: count("stale"),
    missing_tenants: count("missing"),
    unscheduled_tenants: count("unscheduled"),
    tenants: rows,
    usage,
  };
}
