/**
 * Who is calling. The cron secret comes as `Authorization: Bearer <CRON_SECRET>` or, because external cron
 * services can often only set a URL, as `?secret=<CRON_SECRET>`. Compared in constant time. With no
 * CRON_SECRET configured nothing is let in: fail closed, never open.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { fail } from "../lib/errors.ts";

export type Principal = { kind: "cron" };

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

export function authenticate(request: Request, cronSecret: string | undefined): Principal {
  const fromHeader = bearerToken(request);
  const fromQuery = new URL(request.url).searchParams.get("secret") ?? undefined;
  const given = fromHeader ?? fromQuery;
  if (!given) throw fail("unauthorized", "missing credentials: send Authorization: Bearer <CRON_SECRET>");
  if (!cronSecret) throw fail("unauthorized", "invalid credentials");
  if (secretsEqual(given, cronSecret)) return { kind: "cron" };
  throw fail("unauthorized", "invalid credentials");
}
