/**
 * Turns an endpoint (endpoint.ts) into the (Request) → Response function Netlify calls: services built
 * once per process, the one error boundary (any error becomes a JSON answer here, and a 5xx is logged
 * here, once), CORS headers on every answer, and one log line per request with credentials stripped.
 */
import { ConfigError, loadConfig, loadLogLevel } from "../lib/config.ts";
import { fail, isAppError } from "../lib/errors.ts";
import { createLogger, redactUrl } from "../lib/logger.ts";
import { createServices, type Services } from "../lib/services.ts";
import { withCors } from "./cors.ts";
import type { Endpoint } from "./endpoint.ts";
import { errorResponse } from "./http.ts";

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
  endpoint: Endpoint,
  servicesFor: () => Services = getServices,
): (request: Request) => Promise<Response> {
  return async (request) => {
    // A duration, not a time of day: the monotonic clock, unaffected by a test's services.now().
    const started = performance.now();
    let services: Services | undefined;
    let response: Response;
    let log = createLogger({ level: loadLogLevel() });
    try {
      services = servicesFor();
      log = services.log;
      response = await endpoint.handle(request, services);
    } catch (err) {
      response = errorResponse(err);
      if (response.status >= 500) log.error({ err }, "request failed");
      else if (endpoint.background && isAppError(err)) {
        // Netlify discards a background function's answer: a refused call must be visible in the log.
        log.warn({ code: err.code, status: err.status }, `${endpoint.background} refused: ${err.message}`);
      }
    }
    response = withCors(response, request, services?.config, endpoint.methods);
    log.info(
      {
        method: request.method,
        url: redactUrl(request.url),
        status: response.status,
        ms: Math.round(performance.now() - started),
      },
      "request",
    );
    return response;
  };
}
