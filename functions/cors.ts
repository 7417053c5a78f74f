/**
 * CORS for the app's admin page, on every answer of every endpoint, errors included (a browser hides a
 * 401 or 429 from the page otherwise). The request's Origin is echoed only when ALLOWED_ORIGINS lists it,
 * never '*': the page sends the user's token in the Authorization header. No cookies are used, so there
 * is no Access-Control-Allow-Credentials. Other origins get no CORS headers, and the browser keeps the
 * answer from them.
 */
import type { Config } from "../lib/config.ts";
import { allowHeader } from "./endpoint.ts";

/** Headers the admin page may read from our answers (besides the CORS-safelisted ones). */
const EXPOSED_HEADERS = "retry-after, content-disposition, content-length, x-content-sha256";

/**
 * The answer with the CORS headers for the request's Origin; a preflight (OPTIONS) also learns the
 * endpoint's methods and the request headers it may send. The body is passed on as it is: a streamed
 * download stays streamed.
 */
export function withCors(
  response: Response,
  request: Request,
  config: Config | undefined,
  methods: readonly string[],
): Response {
  const origin = request.headers.get("origin");
  if (origin === null) return response;
  const headers = new Headers(response.headers);
  headers.set("vary", "Origin");
  if (config?.cors.allowedOrigins.includes(origin)) {
    headers.set("access-control-allow-origin", origin);
    headers.set("access-control-expose-headers", EXPOSED_HEADERS);
    if (request.method === "OPTIONS") {
      headers.set("access-control-allow-methods", allowHeader(methods));
      headers.set("access-control-allow-headers", "authorization, content-type");
      headers.set("access-control-max-age", "600");
    }
  }
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}
