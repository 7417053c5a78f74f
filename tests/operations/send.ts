/**
 * Like tests/support/call.ts, for answers that are not always JSON (downloads stream files): a Request
 * in, the Response's status, headers and raw body out.
 */
import type { Handler } from "../../functions/runtime.ts";
import { serve } from "../../functions/runtime.ts";
import type { Services } from "../../lib/services.ts";
import type { CallOptions } from "../support/call.ts";

export async function send(handler: Handler, services: Services, name: string, options: CallOptions = {}) {
  const url = new URL(`http://localhost/.netlify/functions/${name}`);
  for (const [key, value] of Object.entries(options.query ?? {})) url.searchParams.set(key, value);
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  const method = options.method ?? "GET";
  let body: string | undefined = options.rawBody;
  if (body === undefined && options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers["content-type"] = "application/json";
  }
  const response = await serve(
    handler,
    () => services,
  )(new Request(url, { method, headers, body: method === "GET" || method === "OPTIONS" ? undefined : body }));
  const bytes = new Uint8Array(await response.arrayBuffer());
  return {
    status: response.status,
    headers: response.headers,
    bytes,
    text: () => Buffer.from(bytes).toString("utf8"),
    // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON answers
    json: (): any => JSON.parse(Buffer.from(bytes).toString("utf8")),
  };
}
