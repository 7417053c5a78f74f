/**
 * A Netlify background function (the name ends in -background): Netlify answers the caller 202 at once and
 * runs the daily backup for up to 15 minutes, with a 13-minute budget. Cron secret only, like
 * daily-tenant-backup; its outcome is in the function log and in backup_logs.
 */
import type { Config } from "@netlify/functions";
import { handleDailyBackgroundRun } from "../../functions/daily-background.ts";
import { serve } from "../../functions/runtime.ts";

export default serve(handleDailyBackgroundRun);

export const config: Config = { background: true };
