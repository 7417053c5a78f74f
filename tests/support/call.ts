/** Calls a handler the way Netlify does: a Request in, a Response out, no network. */
import type { Handler } from "../../functions/runtime.ts";
import { serve } from "../../functions/runtime.ts";
import type { Services } from "../../lib/services.ts";

export interface CallOptions {
  method?: string;
  /** Added as `Authorization: Bearer <token>`. */
  token?: string;
  query?: Record<string, string>;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
}

export async function call(
  handler: Handler,
  services: Services,
  name: string,
  options: CallOptions = {},
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON answers
): Promise<{ status: number; body: any; headers: Headers }> {
  const url = new URL(`http://localhost/.netlify/functions/${name}`);
  for (const [key, value] of Object.entries(options.query ?? {})) url.searchParams.set(key, value);
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  const method = options.method ?? "POST";
  let body: string | undefined = options.rawBody;
  if (body === undefined && options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers["content-type"] = "application/json";
  }
  const response = await serve(
    handler,
    () => services,
  )(new Request(url, { method, headers, body: method === "GET" || method === "HEAD" ? undefined : body }));
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null, headers: response.headers };
}
