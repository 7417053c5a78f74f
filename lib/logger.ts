/**
 * Structured logs (pino). Secrets never reach a log line: credential headers are redacted by path, and
 * every string that goes through `redactUrl` loses its `secret`/`token`/`apikey` query values, because
 * external cron services can only send the cron secret in the URL.
 */
import pino, { type Logger } from "pino";

export type { Logger };

const SECRET_NAMES = new Set(["secret", "token", "apikey", "api_key", "access_token", "key"]);
const QUERY_PARAM = /([?&])([^=&#\s]+)=([^&#\s]*)/g;

/**
 * The text with the values of credential query parameters replaced. A parameter is judged by its name as
 * the server reads it, decoded: `?%73ecret=` is `?secret=` to URLSearchParams, so it is redacted too.
 */
export function redactUrl(url: string): string {
  return url.replace(QUERY_PARAM, (param, separator: string, name: string) =>
    SECRET_NAMES.has(decodeName(name).toLowerCase()) ? `${separator}${name}=[REDACTED]` : param,
  );
}

/** Form decoding that never throws: '+' is a space, each %XX its byte (names we redact are ASCII). */
function decodeName(name: string): string {
  return name
    .replaceAll("+", " ")
    .replace(/%([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
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
