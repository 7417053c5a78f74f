/**
 * Short-lived download links for backup files, when the backend can make them (Supabase Storage: a
 * signed URL the browser fetches directly, so no file passes through a function and its 6 MB limit).
 * services.storage is a wrapper around the backend (retries): the signer is found by unwrapping it.
 */
import type { Services } from "../services.ts";
import { backendWith } from "../storage/port.ts";

export interface UrlSigner {
  createSignedUrl(path: string, expiresInSeconds: number): Promise<string>;
}

function canSign(storage: object): storage is UrlSigner {
  return typeof (storage as Partial<UrlSigner>).createSignedUrl === "function";
}

/** The signer for this deployment's storage, or undefined when files are served by the function. */
export function urlSignerFor(services: Services): UrlSigner | undefined {
  return backendWith(services.storage, canSign);
}
