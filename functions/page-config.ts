/**
 * GET /.netlify/functions/page-config — what the admin page needs to sign users in with Supabase Auth:
 * `{ supabase_url, supabase_anon_key }` from SUPABASE_URL and SUPABASE_ANON_KEY (null when not set).
 * Public, like the anon key itself: it is meant for browsers, and row level security, not secrecy, is
 * what protects the project. Nothing else is answered, and the configuration refuses a secret key here.
 */
import type { Services } from "../lib/services.ts";
import { json, requireMethod } from "./http.ts";

export async function handlePageConfig(request: Request, services: Services): Promise<Response> {
  requireMethod(request, "GET");
  const { page } = services.config;
  return json(200, {
    success: true,
    supabase_url: page.supabaseUrl ?? null,
    supabase_anon_key: page.supabaseAnonKey ?? null,
  });
}
