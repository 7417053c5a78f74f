/**
 * HTTP plumbing shared by the handlers: JSON answers, the one place where errors become Responses,
 * method checks, body parsing with a size limit and zod validation that names the bad field, and CORS
 * for the app's admin page.
 */
import type { z } from "zod";
import { AppError, fail } from "../lib/errors.ts";
import type { Services } from "../lib/services.ts";

/** Bodies are small JSON objects; anything larger is refused before it is parsed. */
export const MAX_BODY_BYTES = 16 * 1024;

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body, null, 2), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", ...headers },
  });
}

export function errorResponse(err: unknown): Response {
  if (err instanceof AppError) {
    const headers: Record<string, string> = {};
    if (err.code === "method_not_allowed" && typeof err.details?.allow === "string")
      headers.allow = err.details.allow;
    if (err.code === "rate_limited" && err.details?.retry_after !== undefined) {
      headers["retry-after"] = String(err.details.retry_after);
    }
    return json(
      err.status,
      {
        success: false,
        error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) },
      },
      headers,
    );
  }
  // Anything else is a bug or an outage: say so without leaking internals.
  return json(500, {
    success: false,
    error: { code: "internal", message: "internal error; see the function log" },
  });
}

export function requireMethod(request: Request, ...allowed: string[]): void {
  if (!allowed.includes(request.method)) {
    throw fail("method_not_allowed", `use ${allowed.join(" or ")} for this endpoint`, {
      allow: allowed.join(", "),
    });
  }
}

/** Reads a JSON object body (empty means {}), refusing bodies over the limit whatever Content-Length says. */
export async function readJsonBody(request: Request, limit = MAX_BODY_BYTES): Promise<unknown> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > limit) throw fail("payload_too_large", `request body is larger than ${limit} bytes`);
  const reader = request.body?.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (reader) {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        await reader.cancel();
        throw fail("payload_too_large", `request body is larger than ${limit} bytes`);
      }
      chunks.push(value);
    }
  }
  const text = Buffer.concat(chunks).toString("utf8").trim();
  if (text === "") return {};
  try {
    return JSON.parse(text);
  } catch {
    throw fail("bad_request", "request body is not valid JSON", { field: "body" });
  }
}

/** Validates input; the error names the first bad field, as `field` in details and in the message. */
export function validate<T extends z.ZodType>(schema: T, input: unknown): z.infer<T> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue && issue.path.length > 0 ? issue.path.join(".") : "body";
  throw fail("bad_request", `${field}: ${issue?.message ?? "invalid"}`, { field });
}

type Handler = (request: Request, services: Services) => Promise<Response>;

/** Headers the admin page may read from our answers (besides the CORS-safelisted ones). */
const EXPOSED_HEADERS = "retry-after, content-disposition, content-length, x-content-sha256";

/**
 * CORS for the origins in ALLOWED_ORIGINS: answers the OPTIONS preflight for `methods`, and adds the CORS
 * headers to every answer, errors included (a browser hides a 401 or 429 from the page otherwise). The
 * request's Origin is echoed only when it is listed, never '*': the page sends the user's token.
 * Other origins get no CORS headers, so the browser keeps the answer from them.
 */
export function withCors(methods: string[], handler: Handler): Handler {
  return async (request, services) => {
    const origin = request.headers.get("origin");
    const allowed = origin !== null && services.config.cors.allowedOrigins.includes(origin);
    const cors: Record<string, string> = allowed
      ? { "access-control-allow-origin": origin, "access-control-allow-credentials": "true" }
      : {};
    if (origin !== null) cors.vary = "Origin";

    if (request.method === "OPTIONS") {
      const headers: Record<string, string> = { allow: [...methods, "OPTIONS"].join(", "), ...cors };
      if (allowed) {
        headers["access-control-allow-methods"] = [...methods, "OPTIONS"].join(", ");
        headers["access-control-allow-headers"] = "authorization, content-type";
        headers["access-control-max-age"] = "600";
      }
      return new Response(null, { status: 204, headers });
    }

    let response: Response;
    try {
      response = await handler(request, services);
    } catch (err) {
      // Without CORS headers to add, the error takes the usual path through the runtime.
      if (origin === null) throw err;
      response = errorResponse(err);
      if (response.status >= 500) services.log.error({ err }, "request failed");
    }
    if (origin === null) return response;
    const headers = new Headers(response.headers);
    for (const [name, value] of Object.entries(cors)) headers.set(name, value);
    if (allowed) headers.set("access-control-expose-headers", EXPOSED_HEADERS);
    // The body is passed on as it is: a streamed download stays streamed.
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
  };
}
