/**
 * A Netlify scheduled function (runs on published deploys only, 30 seconds at most): once a day it POSTs to
 * verify-backups-background with CRON_SECRET, which drills the tenants verified longest ago. Without
 * CRON_SECRET it does nothing and logs why.
 */
import type { Config } from "@netlify/functions";
import { triggerVerifyBackground } from "../../functions/verify-backups.ts";

export default async (_request: Request): Promise<Response> => triggerVerifyBackground();

/** Once a day, at 04:30 UTC: after the default 02:00 backups, so the drill takes the night's new ones. */
export const config: Config = { schedule: "30 4 * * *" };
