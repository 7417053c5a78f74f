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
import { ConfigError, loadLogLevel, loadTriggerConfig, type TriggerConfig } from "../lib/config.ts";
import { errorMessage } from "../lib/errors.ts";
import { createLogger, type Logger, redactUrl } from "../lib/logger.ts";
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

export interface TriggerOptions {
  env?: Record<string, string | undefined>;
  fetch?: typeof fetch;
  log?: Logger;
  /** How long to wait for Netlify's 202; the scheduled function itself may run 30 seconds. */
  timeoutMs?: number;
}

/**
 * Starts the background run: one POST with the cron secret in the Authorization header (never in the URL,
 * never in a log line). The site's address is Netlify's URL variable; locally, http://localhost:PORT.
 */
export async function triggerDailyBackground(options: TriggerOptions = {}): Promise<Response> {
  const env = options.env ?? process.env;
  let settings: TriggerConfig;
  try {
    settings = loadTriggerConfig(env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const message = `${err.message}: the scheduled daily backup did nothing`;
    (options.log ?? createLogger({ level: loadLogLevel(env) })).error(
      { function: "scheduled-daily-backup" },
      message,
    );
    return json(500, { success: false, started: false, message });
  }
  const log = options.log ?? createLogger({ level: settings.logLevel });
  const secret = settings.cronSecret;
  if (!secret) {
    const message =
      "CRON_SECRET is not set: the scheduled daily backup did nothing. Set CRON_SECRET in the site's environment variables (scope: Functions)";
    log.warn({ function: "scheduled-daily-backup" }, message);
    return json(200, { success: false, started: false, message });
  }

  const base = settings.siteUrl;
  let target: URL;
  try {
    target = new URL(`/.netlify/functions/${BACKGROUND_FUNCTION}`, base);
  } catch {
    const message = `URL is not a valid site address (${redactUrl(base)}): the scheduled daily backup did nothing`;
    log.error({ function: "scheduled-daily-backup" }, message);
    return json(500, { success: false, started: false, message });
  }

  const send = options.fetch ?? fetch;
  try {
    const response = await send(target, {
      method: "POST",
      headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
      body: "{}",
      signal: AbortSignal.timeout(options.timeoutMs ?? 20_000),
    });
    await response.body?.cancel();
    // Netlify answers 202 as soon as the background function is queued; an error status means it was not.
    const started = response.ok;
    const message = started
      ? `started the daily backup in the background (HTTP ${response.status}); its outcome is in the log of ${BACKGROUND_FUNCTION} and in backup_logs`
      : `the background function answered HTTP ${response.status}: the daily backup did not start`;
    log[started ? "info" : "error"](
      { function: "scheduled-daily-backup", target: target.href, status: response.status },
      message,
    );
    return json(started ? 202 : 502, { success: started, started, message });
  } catch (err) {
    const message = `could not reach ${target.href}: ${errorMessage(err)}; the daily backup did not start`;
    log.error({ function: "scheduled-daily-backup", target: target.href }, message);
    return json(502, { success: false, started: false, message });
  }
}
