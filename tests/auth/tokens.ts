/**
 * Supabase Auth as the tests see it: an ES256 signing key published as a JWKS through msw at the project
 * URL, a second key pair that nobody published (a forger's), and the legacy HS256 secret.
 */
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from "jose";
import { HttpResponse, http } from "msw";

export const SUPABASE_URL = "https://test-project.supabase.co";
export const ISSUER = `${SUPABASE_URL}/auth/v1`;
export const JWKS_URL = `${ISSUER}/.well-known/jwks.json`;
export const LEGACY_SECRET = "legacy-jwt-secret-for-tests-0123456789abcdef";
const KID = "test-signing-key";

/** The environment that turns user tokens on for createTestServices (database and files stay local). */
export const AUTH_ENV = {
  SUPABASE_URL,
  SUPABASE_SERVICE_ROLE_KEY: "service-role-key-for-tests",
  SUPABASE_JWT_SECRET: LEGACY_SECRET,
  BACKUP_STORAGE: "local",
  SUPER_ADMIN_ROLES: "super_admin",
} as const;

export interface SignOptions {
  /** Which key signs: the published one (default), an unpublished one with the same kid, or HS256. */
  key?: "published" | "forged" | "legacy" | "wrong-secret";
  audience?: string;
  issuer?: string;
  /** Seconds from now; negative for an expired token. Default 3600. */
  expiresIn?: number;
  claims?: JWTPayload;
}

export async function createAuthority() {
  const published = await generateKeyPair("ES256", { extractable: true });
  const forged = await generateKeyPair("ES256", { extractable: true });
  const jwk = { ...(await exportJWK(published.publicKey)), kid: KID, alg: "ES256", use: "sig" };
  let jwksRequests = 0;

  return {
    /** The JWKS endpoint; `answer` lets a test take it down. */
    handler: (answer?: () => Response) =>
      http.get(JWKS_URL, () => {
        jwksRequests += 1;
        return answer ? answer() : HttpResponse.json({ keys: [jwk] });
      }),
    jwksRequests: () => jwksRequests,

    async sign(sub: string | undefined, options: SignOptions = {}): Promise<string> {
      const now = Math.floor(Date.now() / 1000);
      const jwt = new SignJWT({ role: "authenticated", email: "user@example.com", ...options.claims })
        .setIssuedAt(now)
        .setIssuer(options.issuer ?? ISSUER)
        .setAudience(options.audience ?? "authenticated")
        .setExpirationTime(now + (options.expiresIn ?? 3600));
      if (sub !== undefined) jwt.setSubject(sub);
      const key = options.key ?? "published";
      if (key === "legacy" || key === "wrong-secret") {
        const secret = key === "legacy" ? LEGACY_SECRET : "not-the-project-secret-0123456789abcdef";
        return jwt.setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(new TextEncoder().encode(secret));
      }
      const pair = key === "published" ? published : forged;
      return jwt.setProtectedHeader({ alg: "ES256", kid: KID, typ: "JWT" }).sign(pair.privateKey);
    },
  };
}
