/**
 * A tenant's lease: one backup, restore, retention pass or deletion per tenant at a time, across function
 * instances. It expires unless renewed, so that a killed function cannot keep a tenant busy for ever.
 */
import { randomUUID } from "node:crypto";
import { type AppError, fail, isAppError } from "./errors.ts";
import type { Services } from "./services.ts";

export interface Lease {
  readonly tenantId: string;
  readonly holder: string;
  /**
   * Extends the lease (default: BACKUP_LOCK_TTL_SECONDS). When it expired and another operation took the
   * tenant, throws takenOver (409): the work must stop at once.
   */
  renew(ttlSeconds?: number): Promise<void>;
  /** Gives the tenant back; a failure to do so is logged, and the lease then simply expires. */
  release(): Promise<void>;
}

/** Takes the tenant's lease, or answers what holds it. */
export async function tryLease(
  services: Services,
  tenantId: string,
  operation: string,
): Promise<{ lease: Lease } | { busy: Busy }> {
  const holder = randomUUID();
  const lock = await services.db.acquireLock(
    tenantId,
    operation,
    holder,
    services.config.backup.lockTtlSeconds,
  );
  if (!lock.acquired) return { busy: { operation: lock.operation, expires_at: lock.expires_at } };
  return { lease: heldLease(services, tenantId, holder) };
}

/** What holds a busy tenant, and until when. */
export interface Busy {
  operation: string;
  expires_at: string;
}

/** The lease `holder` has just acquired on the tenant (tenant_backup_lock_acquire answered acquired). */
export function heldLease(services: Services, tenantId: string, holder: string): Lease {
  const { db, config, log } = services;
  return {
    tenantId,
    holder,
    async renew(ttlSeconds = config.backup.lockTtlSeconds) {
      if (!(await db.renewLock(tenantId, holder, ttlSeconds))) throw leaseLost(tenantId);
    },
    async release() {
      await db
        .releaseLock(tenantId, holder)
        .catch((err) => log.warn({ err, tenant: tenantId }, "could not release lease"));
    },
  };
}

/** Takes the tenant's lease; 409 naming what holds it when the tenant is busy. */
export async function takeLease(services: Services, tenantId: string, operation: string): Promise<Lease> {
  const taken = await tryLease(services, tenantId, operation);
  if ("busy" in taken) throw tenantBusy(tenantId, taken.busy);
  return taken.lease;
}

/** 409 naming what holds the tenant, and until when (never who: the holder stays ours). */
export function tenantBusy(tenantId: string, busy: Busy): AppError {
  const { operation, expires_at } = busy;
  return fail("conflict", `tenant ${tenantId} is busy: ${operation} running until ${expires_at}`, {
    operation,
    expires_at,
  });
}

/**
 * 409 for work that must stop because another operation took its tenant over (the lease was lost, or the
 * run it was saving is no longer running). What the work was writing belongs to that operation now: the
 * work stops without recording anything on it (isTakenOver tells).
 */
export function takenOver(message: string): AppError {
  return fail("conflict", message, { reason: "taken_over" });
}

/** The lease on the tenant expired and another operation took it. */
export function leaseLost(tenantId: string): AppError {
  return takenOver(`lost the lease on tenant ${tenantId}; another operation took over`);
}

export function isTakenOver(err: unknown): boolean {
  return isAppError(err) && err.code === "conflict" && err.details?.reason === "taken_over";
}
