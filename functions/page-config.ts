/**
 * GET /.netlify/functions/page-config — what the admin page needs to sign users in with Supabase Auth:
 * `{ supabase_url, supabase_anon_key }` from SUPABASE_URL and SUPABASE_ANON_KEY (null when not set).
 * Public, like the anon key itself: it is meant for browsers, and row level security, not secrecy, is
 * what protects the project. Nothing else is answered, and the configuration refuses a secret key here.
 *
 * The one endpoint without a caller: an Endpoint for serve() like the others, but not an endpoint()
 * declaration, whose every access level identifies the caller first. It takes no input.
 */
import type { PageConfig } from "../lib/api-answers.ts";
import { fail } from "../lib/errors.ts";
import { allowHeader, type Endpoint } from "./endpoint.ts";
import { json } from "./http.ts";

const METHODS = ["GET"] as const;

export const handlePageConfig: Endpoint = {
  name: "page-config",
  methods: METHODS,
  async handle(request, services) {
    if (request.method === "OPTIONS") {
      return new Response(null, { status: 204, headers: { allow: allowHeader(METHODS) } });
    }
    if (request.method !== "GET") {
      throw fail("method_not_allowed", "use GET for this endpoint", { allow: "GET" });
    }
    const { page } = services.config;
    return json(200, {
      success: true,
      supabase_url: page.supabaseUrl ?? null,
      supabase_anon_key: page.supabaseAnonKey ?? null,
    } satisfies PageConfig);
  },
};
