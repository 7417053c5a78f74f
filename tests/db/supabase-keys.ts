/**
 * A Supabase project's API keys as the platform issues them (legacy JWT keys): HS256 JWTs signed with the
 * project's JWT secret, whose `role` claim is the database role PostgREST switches to for the request.
 */
import { SignJWT } from "jose";

/** The project's JWT secret in these tests (Supabase's are at least 32 characters). */
export const PROJECT_JWT_SECRET = "test-project-jwt-secret-at-least-32-characters";

export interface ProjectKeys {
  anon: string;
  serviceRole: string;
}

/** A JWT with `claims`, signed the way Supabase signs its keys; ten years valid, as they are. */
export function signProjectJwt(
  claims: Record<string, unknown>,
  secret = PROJECT_JWT_SECRET,
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: "supabase", ref: "fake-project", ...claims })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuedAt(now)
    .setExpirationTime(now + 10 * 365 * 24 * 3600)
    .sign(new TextEncoder().encode(secret));
}

export async function projectKeys(secret = PROJECT_JWT_SECRET): Promise<ProjectKeys> {
  return {
    anon: await signProjectJwt({ role: "anon" }, secret),
    serviceRole: await signProjectJwt({ role: "service_role" }, secret),
  };
}
