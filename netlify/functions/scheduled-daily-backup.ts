/**
 * A Netlify scheduled function (runs on published deploys only, 30 seconds at most): every hour it POSTs
 * to daily-tenant-backup-background with CRON_SECRET, which backs up the tenants whose scheduled slot has
 * started (lib/schedule). Without CRON_SECRET it does nothing and logs why.
 */
import type { Config } from "@netlify/functions";
import { triggerDailyBackground } from "../../functions/daily-background.ts";

export default async (_request: Request): Promise<Response> => triggerDailyBackground();

/** Hourly, so that each tenant is backed up at its own time of day (schedules are whole UTC hours or later). */
export const config: Config = { schedule: "@hourly" };
