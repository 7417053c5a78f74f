/** Calls a handler the way Netlify does: a Request in, a Response out, no network. */
import type { Endpoint } from "../../functions/endpoint.ts";
import { serve } from "../../functions/runtime.ts";
import type { Services } from "../../lib/services.ts";

export interface CallOptions {
  /** Default: GET for send(), POST for call(). */
  method?: string;
  /** Added as `Authorization: Bearer <token>`. */
  token?: string;
  query?: Record<string, string>;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
}

/** The answer as it came: status, headers and raw body (downloads stream files, not JSON). */
export async function send(
  handler: Endpoint,
  services: Services,
  name: string,
  options: CallOptions = {},
  defaultMethod = "GET",
) {
  const url = new URL(`http://localhost/.netlify/functions/${name}`);
  for (const [key, value] of Object.entries(options.query ?? {})) url.searchParams.set(key, value);
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  const method = options.method ?? defaultMethod;
  let body: string | undefined = options.rawBody;
  if (body === undefined && options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers["content-type"] = "application/json";
  }
  const bodyless = method === "GET" || method === "HEAD" || method === "OPTIONS";
  const response = await serve(
    handler,
    () => services,
  )(new Request(url, { method, headers, body: bodyless ? undefined : body }));
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

/** A JSON endpoint's answer, parsed; POST unless told otherwise. */
export async function call(
  handler: Endpoint,
  services: Services,
  name: string,
  options: CallOptions = {},
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON answers
): Promise<{ status: number; body: any; headers: Headers }> {
  const answer = await send(handler, services, name, options, "POST");
  const text = answer.text();
  return { status: answer.status, body: text ? JSON.parse(text) : null, headers: answer.headers };
}
