/**
 * A Netlify scheduled function (runs on published deploys only, 30 seconds at most): once a day it POSTs
 * to daily-tenant-backup-background with CRON_SECRET. Without CRON_SECRET it does nothing and logs why.
 */
import type { Config } from "@netlify/functions";
import { triggerDailyBackground } from "../../functions/daily-background.ts";

export default async (_request: Request): Promise<Response> => triggerDailyBackground();

/** Midnight UTC; the daily run's "today" is the UTC day. */
export const config: Config = { schedule: "@daily" };
