/**
 * How fresh each tenant's newest completed backup is, from the database's run records (cheap enough for
 * an uptime monitor polling every minute; storage is not listed). A tenant is "stale" when its newest
 * backup is older than HEALTH_MAX_AGE_HOURS, "missing" when it has none (a tenant created since the
 * last daily run counts as missing until the next one: back it up when it is created to avoid that).
 */
import type { HealthReport, TenantHealth } from "./api-answers.ts";
import type { Tenant } from "./db/tenant-db.ts";
import type { Services } from "./services.ts";

export async function backupHealth(
  services: Services,
  tenants: Tenant[],
  tenantId?: string,
): Promise<HealthReport> {
  const now = services.now();
  const maxAgeHours = services.config.health.maxAgeHours;
  const newest = new Map(
    (await services.db.newestCompletedBackups(tenantId)).map((b) => [b.organization_id, b]),
  );
  const rows: TenantHealth[] = tenants.map((tenant) => {
    const backup = newest.get(tenant.id);
    if (!backup) {
      return {
        organization_id: tenant.id,
        organization_name: tenant.name,
        status: "missing",
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
      status: ageHours > maxAgeHours ? "stale" : "ok",
      backup_id: backup.backup_id,
      backup_type: backup.backup_type,
      backup_date: backup.backup_date,
      completed_at: backup.completed_at,
      age_hours: Math.round(ageHours * 100) / 100,
    };
  });
  const count = (status: TenantHealth["status"]) => rows.filter((r) => r.status === status).length;
  return {
    healthy: count("ok") === rows.length,
    checked_at: now.toISOString(),
    max_age_hours: maxAgeHours,
    total_tenants: rows.length,
    ok_tenants: count("ok"),
    stale_tenants: count("stale"),
    missing_tenants: count("missing"),
    tenants: rows,
  };
}
