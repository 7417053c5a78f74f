/**
 * HTTP plumbing of the endpoint wrapper (endpoint.ts, runtime.ts): JSON answers, an error as a Response,
 * body parsing with a size limit and a media type, and zod validation that names the bad field.
 */
import type { z } from "zod";
import { causeClass, fail } from "../lib/errors.ts";

/** Bodies are small JSON objects; anything larger is refused before it is parsed. */
export const MAX_BODY_BYTES = 16 * 1024;

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body, null, 2), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", ...headers },
  });
}

export function errorResponse(thrown: unknown): Response {
  // An outage or a full disk is answered as such (503/507), not as a bug.
  const err = causeClass(thrown);
  if (err) {
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

/**
 * Reads a JSON object body, refusing bodies over the limit whatever Content-Length says. A body must be
 * sent as `Content-Type: application/json` (415 otherwise: a form or text body is a client's mistake,
 * not input to guess at). An empty body means {} whatever its type, so that `curl -X POST` works where
 * every field is optional; where a field is required, the validation names it.
 */
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
  const mediaType = request.headers.get("content-type")?.split(";")[0]?.trim().toLowerCase();
  if (mediaType !== "application/json") {
    throw fail("unsupported_media_type", "send the request body as Content-Type: application/json", {
      header: "content-type",
    });
  }
  try {
    return JSON.parse(text);
  } catch {
    throw fail("bad_request", "request body is not valid JSON", { field: "body" });
  }
}

/**
 * Reads a CSV body (`Content-Type: text/csv`, UTF-8 if a charset is named) of at most `limit` bytes,
 * whatever Content-Length says: 415 for another type, 413 over the limit, 400 when empty.
 */
export async function readCsvBody(request: Request, limit: number): Promise<Uint8Array> {
  const [mediaType, ...parameters] = (request.headers.get("content-type") ?? "").split(";");
  const charset = parameters
    .map((p) => p.trim().toLowerCase())
    .find((p) => p.startsWith("charset="))
    ?.slice("charset=".length)
    .replaceAll('"', "");
  if (mediaType?.trim().toLowerCase() !== "text/csv" || (charset !== undefined && charset !== "utf-8")) {
    throw fail("unsupported_media_type", "send the CSV file as Content-Type: text/csv (UTF-8)", {
      header: "content-type",
    });
  }
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > limit) throw fail("payload_too_large", `the CSV file is larger than ${limit} bytes`);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body?.getReader();
  if (reader) {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        await reader.cancel();
        throw fail("payload_too_large", `the CSV file is larger than ${limit} bytes`);
      }
      chunks.push(value);
    }
  }
  if (size === 0) throw fail("bad_request", "body: is empty; send the CSV file", { field: "body" });
  return Buffer.concat(chunks);
}

/**
 * Validates input; the error names the first bad field, as `field` in details and in the message. An
 * unknown field is named itself (zod reports it on the object that holds it). "body" only when the input
 * as a whole is wrong (a JSON array instead of an object).
 */
export function validate<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  if (issue?.code === "unrecognized_keys") {
    const [first, ...others] = issue.keys;
    const field = [...issue.path, first].join(".");
    const also = others.length > 0 ? ` (nor are ${others.join(", ")})` : "";
    throw fail("bad_request", `${field}: is not a field of this endpoint${also}`, { field });
  }
  const field = issue && issue.path.length > 0 ? issue.path.join(".") : "body";
  throw fail("bad_request", `${field}: ${issue?.message ?? "invalid"}`, { field });
}
