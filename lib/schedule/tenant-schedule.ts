/**
 * A tenant's schedule as the API and the cron call see it: its own settings when it has some, the default
 * from configuration (DEFAULT_SCHEDULE_*) otherwise, and when its next scheduled backup runs.
 */
import type { BackupSchedule } from "../api-answers.ts";
import type { ScheduleRow } from "../db/tenant-db.ts";
import type { Services } from "../services.ts";
import { nextRunAt, type Schedule } from "./slots.ts";

/** The schedule the tenant follows: its row's settings, or the default when it has none. */
export function effectiveSchedule(
  row: ScheduleRow | null,
  fallback: Schedule,
): Schedule & { is_default: boolean } {
  if (!row || row.frequency === null || row.time_of_day === null) return { ...fallback, is_default: true };
  return {
    frequency: row.frequency,
    time_of_day: row.time_of_day,
    day_of_week: row.day_of_week,
    enabled: row.enabled,
    is_default: false,
  };
}

export function lastRunAt(row: ScheduleRow | null): Date | null {
  return row?.last_run_at ? new Date(row.last_run_at) : null;
}

export function describeSchedule(
  organizationId: string,
  row: ScheduleRow | null,
  fallback: Schedule,
  at: Date,
): BackupSchedule {
  const { is_default, ...schedule } = effectiveSchedule(row, fallback);
  const last = lastRunAt(row);
  return {
    organization_id: organizationId,
    ...schedule,
    next_run_at: nextRunAt(schedule, last, at)?.toISOString() ?? null,
    last_run_at: last?.toISOString() ?? null,
    is_default,
  };
}

/** The tenant's schedule as the API shows it. */
export async function readSchedule(services: Services, tenantId: string): Promise<BackupSchedule> {
  const row = await services.db.getSchedule(tenantId);
  return describeSchedule(tenantId, row, services.config.schedule.default, services.now());
}

/** Sets the tenant's own schedule (it no longer follows the default); answers it as the API shows it. */
export async function setSchedule(
  services: Services,
  tenantId: string,
  schedule: Schedule,
): Promise<BackupSchedule> {
  const now = services.now();
  const before = await services.db.getSchedule(tenantId);
  const row = await services.db.putSchedule(tenantId, schedule, nextRunAt(schedule, lastRunAt(before), now));
  return describeSchedule(tenantId, row, services.config.schedule.default, now);
}
