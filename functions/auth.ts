/**
 * Who is calling, and may they. Two kinds of callers:
 * - the cron service: `Authorization: Bearer <CRON_SECRET>` or, because external cron services can often
 *   only set a URL, `?secret=<CRON_SECRET>`. Compared in constant time. With no CRON_SECRET configured no
 *   cron call gets in: fail closed, never open.
 * - a signed-in user of the app: `Authorization: Bearer <Supabase access token>` (never in the URL),
 *   verified like Supabase Auth does (lib/auth/jwt.ts), with their role read from the app's database.
 *   An organization's admin reaches that organization; a super admin reaches every one.
 *
 * 401: no credentials, or credentials that do not verify. 403: a verified user who may not do this.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { looksLikeJwt, verifyAccessToken } from "../lib/auth/jwt.ts";
import type { Principal } from "../lib/auth/principal.ts";
import { principalForUser } from "../lib/auth/roles.ts";
import { fail } from "../lib/errors.ts";
import type { Services } from "../lib/services.ts";

export type { Principal } from "../lib/auth/principal.ts";

export function bearerToken(request: Request): string | undefined {
  const header = request.headers.get("authorization");
  if (!header) return undefined;
  const match = /^Bearer\s+(.+)$/i.exec(header.trim());
  return match?.[1]?.trim();
}

/** Constant time for equal and unequal lengths alike: both sides are hashed to 32 bytes first. */
export function secretsEqual(given: string, expected: string): boolean {
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

/**
 * Authenticates the caller (401 when it cannot), without deciding what they may reach (endpoint.ts does,
 * once the input names the organization). `cronOnly`: a verified user gets 403.
 */
export async function identify(
  request: Request,
  services: Services,
  options: { cronOnly?: boolean } = {},
): Promise<Principal> {
  const fromHeader = bearerToken(request);
  const given = fromHeader ?? new URL(request.url).searchParams.get("secret") ?? undefined;
  if (!given) throw fail("unauthorized", "missing credentials: send Authorization: Bearer <token>");
  const { cronSecret } = services.config;
  if (cronSecret && secretsEqual(given, cronSecret)) return { kind: "cron" };
  // A user token is accepted only in the header: URLs end up in logs and browser history.
  if (fromHeader === undefined || !looksLikeJwt(fromHeader))
    throw fail("unauthorized", "invalid credentials");

  const user = await verifyAccessToken(
    fromHeader,
    { supabaseUrl: services.config.supabase?.url, jwtSecret: services.config.auth.jwtSecret },
    services.now(),
  );
  if (options.cronOnly) throw fail("forbidden", "this endpoint is for the cron service only");
  return principalForUser(services, user);
}
