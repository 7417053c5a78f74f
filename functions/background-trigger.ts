/**
 * What a Netlify scheduled function does to start a background function: a scheduled function may run 30
 * seconds and receives no secret, so it only POSTs `{}` to the background function with CRON_SECRET (in
 * the Authorization header: never in the URL, never in a log line) and returns. The site's address is
 * Netlify's URL variable; locally, http://localhost:PORT. No CRON_SECRET configured: it does nothing and
 * says so in the log.
 */
import { ConfigError, loadLogLevel, loadTriggerConfig, type TriggerConfig } from "../lib/config.ts";
import { errorMessage } from "../lib/errors.ts";
import { createLogger, type Logger, redactUrl } from "../lib/logger.ts";
import { json } from "./http.ts";

export interface TriggerOptions {
  env?: Record<string, string | undefined>;
  fetch?: typeof fetch;
  log?: Logger;
  /** How long to wait for Netlify's 202; the scheduled function itself may run 30 seconds. */
  timeoutMs?: number;
}

export interface BackgroundTarget {
  /** The background function's name (it ends in -background). */
  function: string;
  /** The scheduled function's name, for the log. */
  scheduled: string;
  /** What the background function does, for messages: "daily backup". */
  what: string;
}

export async function triggerBackground(
  target: BackgroundTarget,
  options: TriggerOptions = {},
): Promise<Response> {
  const env = options.env ?? process.env;
  let settings: TriggerConfig;
  try {
    settings = loadTriggerConfig(env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const message = `${err.message}: the scheduled ${target.what} did nothing`;
    (options.log ?? createLogger({ level: loadLogLevel(env) })).error(
      { function: target.scheduled },
      message,
    );
    return json(500, { success: false, started: false, message });
  }
  const log = options.log ?? createLogger({ level: settings.logLevel });
  const secret = settings.cronSecret;
  if (!secret) {
    const message = `CRON_SECRET is not set: the scheduled ${target.what} did nothing. Set CRON_SECRET in the site's environment variables (scope: Functions)`;
    log.warn({ function: target.scheduled }, message);
    return json(200, { success: false, started: false, message });
  }

  const base = settings.siteUrl;
  let url: URL;
  try {
    url = new URL(`/.netlify/functions/${target.function}`, base);
  } catch {
    const message = `URL is not a valid site address (${redactUrl(base)}): the scheduled ${target.what} did nothing`;
    log.error({ function: target.scheduled }, message);
    return json(500, { success: false, started: false, message });
  }

  const send = options.fetch ?? fetch;
  try {
    const response = await send(url, {
      method: "POST",
      headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
      body: "{}",
      signal: AbortSignal.timeout(options.timeoutMs ?? 20_000),
    });
    await response.body?.cancel();
    // Netlify answers 202 as soon as the background function is queued; an error status means it was not.
    const started = response.ok;
    const message = started
      ? `started the ${target.what} in the background (HTTP ${response.status}); its outcome is in the log of ${target.function} and in backup_logs`
      : `the background function answered HTTP ${response.status}: the ${target.what} did not start`;
    log[started ? "info" : "error"](
      { function: target.scheduled, target: url.href, status: response.status },
      message,
    );
    return json(started ? 202 : 502, { success: started, started, message });
  } catch (err) {
    const message = `could not reach ${url.href}: ${errorMessage(err)}; the ${target.what} did not start`;
    log.error({ function: target.scheduled, target: url.href }, message);
    return json(502, { success: false, started: false, message });
  }
}
