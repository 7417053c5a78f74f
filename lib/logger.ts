/**
 * Structured logs (pino). Secrets never reach a log line: credential headers are redacted by path, and
 * every string that goes through `redactUrl` loses its `secret`/`token`/`apikey` query values, because
 * external cron services can only send the cron secret in the URL.
 */
import pino, { type Logger } from "pino";

export type { Logger };

const SECRET_PARAMS = /([?&](?:secret|token|apikey|api_key|access_token|key)=)[^&#\s]*/gi;

export function redactUrl(url: string): string {
  return url.replace(SECRET_PARAMS, "$1[REDACTED]");
}

export const REDACT_PATHS = [
  "req.headers.authorization",
  "req.headers.cookie",
  "req.headers.apikey",
  "headers.authorization",
  "headers.cookie",
  "headers.apikey",
  "authorization",
  "cronSecret",
  "serviceRoleKey",
  "*.cronSecret",
  "*.serviceRoleKey",
  "*.password",
];

export function createLogger(options: { level?: string; destination?: pino.DestinationStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? "info",
      redact: { paths: REDACT_PATHS, censor: "[REDACTED]" },
      base: { service: "tenant-backup" },
      formatters: {
        // A URL anywhere in a log object is stripped of credential query parameters.
        log: (object) => {
          for (const key of ["url", "path"]) {
            const value = (object as Record<string, unknown>)[key];
            if (typeof value === "string") (object as Record<string, unknown>)[key] = redactUrl(value);
          }
          return object;
        },
      },
    },
    options.destination,
  );
}
