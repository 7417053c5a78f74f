/**
 * Per-tenant limits on expensive calls (a manual backup, a restore, a dry-run restore), kept in the database
 * (tenant_backup_rate_limits) so that they hold across function instances. A call over the limit gets
 * 429 with Retry-After. The cron secret is exempt: it is the operator's own automation, and the tenant's
 * lease already keeps two operations from running at once.
 */
import type { Principal } from "./auth/principal.ts";
import { fail } from "./errors.ts";
import type { Services } from "./services.ts";

/** A dry run reads the whole tenant and stages the backup: it loads the shared database like a restore. */
export type RateLimitKind = "manual_backup" | "restore" | "dry_run";

const NAMES: Record<RateLimitKind, string> = {
  manual_backup: "manual backup",
  restore: "restore",
  dry_run: "dry-run restore",
};

/** What a caller holds after passing the limit; release() gives the slot back when no work was done. */
export interface RateLimitSlot {
  release(): Promise<void>;
}

const NO_SLOT: RateLimitSlot = { release: async () => {} };

function intervalOf(services: Services, kind: RateLimitKind): number {
  const { rateLimits } = services.config;
  if (kind === "dry_run") return rateLimits.dryRunSeconds;
  return kind === "manual_backup" ? rateLimits.manualBackupSeconds : rateLimits.restoreSeconds;
}

/**
 * Takes the tenant's slot for `kind`, or throws 429 (code rate_limited, details.retry_after in seconds,
 * sent as the Retry-After header). Call it after authorization and validation, right before the work.
 * Give the slot back with release() when the call ends without doing the work (e.g. 409 tenant busy), so
 * that a refused call does not cost the caller the interval.
 */
export async function enforceRateLimit(
  services: Services,
  tenantId: string,
  kind: RateLimitKind,
  principal?: Principal,
): Promise<RateLimitSlot> {
  const seconds = intervalOf(services, kind);
  if (seconds === 0 || principal?.kind === "cron") return NO_SLOT;
  const take = await services.db.takeRateLimit(tenantId, kind, seconds);
  if (!take.allowed) {
    // A caller whose transaction started before the winner's measures the wait from an earlier now()
    // and can come out a second past the interval; no caller ever needs to wait longer than it.
    const retryAfter = Math.min(take.retry_after_seconds, seconds);
    throw fail(
      "rate_limited",
      `one ${NAMES[kind]} per ${seconds} s for organization ${tenantId}; try again in ${retryAfter} s`,
      { retry_after: retryAfter, kind },
    );
  }
  return {
    release: async () => {
      await services.db
        .releaseRateLimit(tenantId, kind, take.taken_at, take.previous_at)
        .catch((err) =>
          services.log.warn({ err, tenantId, kind }, "could not give the rate-limit slot back"),
        );
    },
  };
}
