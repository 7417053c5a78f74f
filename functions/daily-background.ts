/**
 * The daily run for installations that outgrow one synchronous call, and its optional Netlify trigger.
 *
 * - handleDailyBackgroundRun: POST /.netlify/functions/daily-tenant-backup-background. The same run as
 *   daily-tenant-backup (cron secret only, same body, same retention pass), with a time budget of 13
 *   minutes instead of BACKUP_TIME_BUDGET_MS: Netlify stops background functions at 15. Netlify answers
 *   the caller 202 before the function starts and throws its answer away, so the outcome goes to the
 *   function log (and, as for every run, to backup_logs); refusals too (the `background` declaration).
 * - triggerDailyBackground: what the scheduled function does. A scheduled function may run 30 seconds
 *   and receives no secret, so it only POSTs to the background function with CRON_SECRET and returns.
 *   No CRON_SECRET configured: it does nothing and says so in the log.
 */
import { z } from "zod";
import { type TriggerOptions, triggerBackground } from "./background-trigger.ts";
import { dailyRun } from "./daily-tenant-backup.ts";
import { endpoint } from "./endpoint.ts";
import { json } from "./http.ts";

/** Under Netlify's 15-minute limit for background functions, with room for the page in flight and retention. */
export const BACKGROUND_TIME_BUDGET_MS = 13 * 60_000;

export const BACKGROUND_FUNCTION = "daily-tenant-backup-background";

export const handleDailyBackgroundRun = endpoint({
  name: BACKGROUND_FUNCTION,
  methods: ["POST"],
  from: "body",
  input: z.object({}).strict(),
  access: "cron",
  timeBudgetMs: BACKGROUND_TIME_BUDGET_MS,
  background: "daily background run",
  async run({ services, deadline }) {
    const { status, body } = await dailyRun(services, deadline);
    const failed = body.tenants.filter((t) => t.status === "failed");
    services.log[status >= 500 ? "error" : "info"](
      { status, summary: body.summary, failed_tenants: failed },
      `daily background run: ${body.message}`,
    );
    return json(status, body);
  },
});

/** Starts the daily background run (background-trigger.ts). */
export function triggerDailyBackground(options: TriggerOptions = {}): Promise<Response> {
  return triggerBackground(
    { function: BACKGROUND_FUNCTION, scheduled: "scheduled-daily-backup", what: "daily backup" },
    options,
  );
}
