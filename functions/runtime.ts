/**
 * Turns a platform-free handler into a (Request) → Response function: services built once per process,
 * every error answered as JSON in one place, one log line per request with credentials stripped.
 */
import { ConfigError, loadConfig } from "../lib/config.ts";
import { fail } from "../lib/errors.ts";
import { createLogger, redactUrl } from "../lib/logger.ts";
import { createServices, type Services } from "../lib/services.ts";
import { errorResponse } from "./http.ts";

export type Handler = (request: Request, services: Services) => Promise<Response>;

let shared: Services | undefined;

/** The process-wide services, from the environment. Tests and the local server may install their own. */
export function getServices(): Services {
  if (!shared) {
    try {
      shared = createServices(loadConfig(process.env));
    } catch (err) {
      if (err instanceof ConfigError) {
        throw fail("internal", `server misconfigured: ${err.message}`, { variable: err.variable });
      }
      throw err;
    }
  }
  return shared;
}

export function setServices(services: Services | undefined): void {
  shared = services;
}

export function serve(
  handler: Handler,
  servicesFor: () => Services = getServices,
): (request: Request) => Promise<Response> {
  return async (request) => {
    const started = Date.now();
    let response: Response;
    let log = createLogger({ level: process.env.LOG_LEVEL ?? "info" });
    try {
      const services = servicesFor();
      log = services.log;
      response = await handler(request, services);
    } catch (err) {
      response = errorResponse(err);
      if (response.status >= 500) log.error({ err }, "request failed");
    }
    log.info(
      {
        method: request.method,
        url: redactUrl(request.url),
        status: response.status,
        ms: Date.now() - started,
      },
      "request",
    );
    return response;
  };
}
