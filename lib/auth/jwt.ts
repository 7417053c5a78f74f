/**
 * Verifies a Supabase Auth access token the way Supabase itself does: signed by one of the project's keys
 * (asymmetric, published as a JWKS at /auth/v1/.well-known/jwks.json) or, for projects still on it, by
 * the legacy shared secret (HS256); issued by `${SUPABASE_URL}/auth/v1`; for the audience
 * `authenticated`; not expired. Anything else is 401. A JWKS we cannot fetch is our outage, not the
 * caller's fault: 503.
 */
import { createRemoteJWKSet, decodeProtectedHeader, errors, type JWTPayload, jwtVerify } from "jose";
import { fail, isAppError } from "../errors.ts";

export interface VerifiedUser {
  userId: string;
  email: string | null;
}

export interface TokenSettings {
  /** The Supabase project URL; without it no user token is accepted. */
  supabaseUrl: string | undefined;
  /** The legacy HS256 secret; without it HS256 tokens are refused. */
  jwtSecret: string | undefined;
}

/** Supabase signs with ES256 (default for new keys) or RS256; Ed25519 is accepted for when it arrives. */
const ASYMMETRIC = ["ES256", "RS256", "EdDSA"];
const AUDIENCE = "authenticated";
/** Clocks of Netlify and Supabase may differ by a few seconds; more would stretch a token's life. */
const CLOCK_TOLERANCE_SECONDS = 5;

/**
 * One key set per project URL for the life of the process: jose caches the keys and refetches only for an
 * unknown `kid` (key rotation), so a warm function verifies without a network call.
 */
const keySets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

function authBase(supabaseUrl: string): string {
  return `${supabaseUrl.replace(/\/+$/, "")}/auth/v1`;
}

function keySetFor(supabaseUrl: string) {
  const url = `${authBase(supabaseUrl)}/.well-known/jwks.json`;
  let keySet = keySets.get(url);
  if (!keySet) {
    keySet = createRemoteJWKSet(new URL(url), { timeoutDuration: 5000, cooldownDuration: 30_000 });
    keySets.set(url, keySet);
  }
  return keySet;
}

/** A compact JWS has three base64url parts; anything else is not a user token (perhaps a wrong secret). */
export function looksLikeJwt(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token);
}

export async function verifyAccessToken(
  token: string,
  settings: TokenSettings,
  now: Date,
): Promise<VerifiedUser> {
  if (!settings.supabaseUrl) {
    throw fail("unauthorized", "invalid credentials: user tokens are not accepted (SUPABASE_URL is not set)");
  }
  let alg: string | undefined;
  try {
    alg = decodeProtectedHeader(token).alg;
  } catch {
    throw fail("unauthorized", "invalid token: malformed header");
  }
  const options = {
    issuer: authBase(settings.supabaseUrl),
    audience: AUDIENCE,
    currentDate: now,
    clockTolerance: CLOCK_TOLERANCE_SECONDS,
    requiredClaims: ["exp", "sub"],
  };
  let payload: JWTPayload;
  try {
    if (alg === "HS256") {
      if (!settings.jwtSecret) {
        throw fail("unauthorized", "invalid token: HS256 tokens need SUPABASE_JWT_SECRET to be configured");
      }
      const key = new TextEncoder().encode(settings.jwtSecret);
      ({ payload } = await jwtVerify(token, key, { ...options, algorithms: ["HS256"] }));
    } else {
      ({ payload } = await jwtVerify(token, keySetFor(settings.supabaseUrl), {
        ...options,
        algorithms: ASYMMETRIC,
      }));
    }
  } catch (err) {
    throw tokenError(err);
  }
  if (typeof payload.sub !== "string" || payload.sub === "") {
    throw fail("unauthorized", "invalid token: no subject");
  }
  return { userId: payload.sub, email: typeof payload.email === "string" ? payload.email : null };
}

/** What the caller did wrong is 401 with a reason; what we could not do (fetch the keys) is 503. */
function tokenError(err: unknown) {
  if (isAppError(err)) return err;
  if (err instanceof errors.JWTExpired) return fail("unauthorized", "invalid token: expired");
  if (err instanceof errors.JWTClaimValidationFailed) {
    return fail("unauthorized", `invalid token: ${err.claim} claim check failed (${err.reason})`);
  }
  if (
    err instanceof errors.JWSSignatureVerificationFailed ||
    err instanceof errors.JWKSNoMatchingKey ||
    err instanceof errors.JWKSMultipleMatchingKeys
  ) {
    return fail("unauthorized", "invalid token: signature does not verify");
  }
  if (
    err instanceof errors.JOSEAlgNotAllowed ||
    err instanceof errors.JOSENotSupported ||
    err instanceof errors.JWSInvalid ||
    err instanceof errors.JWTInvalid ||
    err instanceof errors.JWKInvalid
  ) {
    return fail("unauthorized", "invalid token: malformed or of an unsupported kind");
  }
  // JWKSTimeout, JWKSInvalid, a non-200 answer or a network failure: the key set is out of reach.
  return fail("unavailable", "cannot verify the token now: the project's signing keys are unreachable", {
    reason: err instanceof Error ? err.message : String(err),
  });
}
