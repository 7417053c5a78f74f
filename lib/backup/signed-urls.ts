/**
 * Short-lived download links for backup files, when the backend can make them (Supabase Storage: a
 * signed URL the browser fetches directly, so no file passes through a function and its 6 MB limit).
 *
 * services.storage is the retrying wrapper, which exposes only the port; a backend that can sign shows
 * it by having createSignedUrl. When the wrapper hides it, a SupabaseStorage is built from the same
 * configuration (one per Services).
 */
import { createClient } from "@supabase/supabase-js";
import type { Services } from "../services.ts";
import { SupabaseStorage } from "../storage/supabase.ts";

export interface UrlSigner {
  createSignedUrl(path: string, expiresInSeconds: number): Promise<string>;
}

const built = new WeakMap<Services, UrlSigner>();

function canSign(storage: unknown): storage is UrlSigner {
  return typeof (storage as Partial<UrlSigner>).createSignedUrl === "function";
}

/** The signer for this deployment's storage, or undefined when files are served by the function. */
export function urlSignerFor(services: Services): UrlSigner | undefined {
  if (canSign(services.storage)) return services.storage;
  const { config } = services;
  if (services.storage.kind !== "supabase" || config.storage.kind !== "supabase" || !config.supabase) {
    return undefined;
  }
  let signer = built.get(services);
  if (!signer) {
    const client = createClient(config.supabase.url, config.supabase.serviceRoleKey, {
      auth: { persistSession: false, autoRefreshToken: false },
    });
    signer = new SupabaseStorage(client, config.storage.bucket);
    built.set(services, signer);
  }
  return signer;
}
