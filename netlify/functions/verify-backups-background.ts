/**
 * A Netlify background function: Netlify answers the caller 202 at once and runs the verification drill
 * for up to 15 minutes, with a 13-minute budget. Cron secret only, like verify-backups.
 */
import type { Config } from "@netlify/functions";
import { serve } from "../../functions/runtime.ts";
import { handleVerifyBackgroundRun } from "../../functions/verify-backups.ts";

export default serve(handleVerifyBackgroundRun);

export const config: Config = { background: true };
