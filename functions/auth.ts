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
import { canReach, type Principal, reachesAll } from "../lib/auth/principal.ts";
import { principalForUser } from "../lib/auth/roles.ts";
import { fail } from "../lib/errors.ts";
import type { Services } from "../lib/services.ts";

export type { Principal } from "../lib/auth/principal.ts";

export interface AuthorizeOptions {
  /** The organization the call acts on. Absent: the call acts on every tenant (cron or super admin only). */
  organizationId?: string;
  /** Only the cron secret may call (daily-tenant-backup); a verified user gets 403. */
  cronOnly?: boolean;
}

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
 * Authenticates the caller (401 when it cannot), without deciding what they may reach. Handlers call it
 * before validating input, so that an anonymous caller learns nothing about the endpoint's fields.
 */
export async function identify(
  request: Request,
  services: Services,
  options: Pick<AuthorizeOptions, "cronOnly"> = {},
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

/** 403 unless the principal may act on `organizationId` (or, when absent, on every tenant). */
export function requireAccess(principal: Principal, organizationId?: string): void {
  if (organizationId === undefined) {
    if (!reachesAll(principal)) {
      throw fail("forbidden", "only the cron secret or a super admin may act on every organization", {
        field: "organization_id",
      });
    }
    return;
  }
  if (!canReach(principal, organizationId)) {
    throw fail("forbidden", `not an admin of organization ${organizationId}`, { field: "organization_id" });
  }
}

/** identify() then requireAccess(): the one call a handler needs once it knows the organization. */
export async function authorize(
  request: Request,
  services: Services,
  options: AuthorizeOptions = {},
): Promise<Principal> {
  const principal = await identify(request, services, options);
  if (!options.cronOnly) requireAccess(principal, options.organizationId);
  return principal;
}
