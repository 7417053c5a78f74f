/**
 * A tenant's lease: one backup, restore, retention pass or deletion per tenant at a time, across function
 * instances. It expires unless renewed, so that a killed function cannot keep a tenant busy for ever.
 */
import { randomUUID } from "node:crypto";
import { fail } from "./errors.ts";
import type { Services } from "./services.ts";

export interface Lease {
  readonly tenantId: string;
  readonly holder: string;
  /** Extends the lease (default: BACKUP_LOCK_TTL_SECONDS); 409 when it was lost to another operation. */
  renew(ttlSeconds?: number): Promise<void>;
  /** Gives the tenant back; a failure to do so is logged, and the lease then simply expires. */
  release(): Promise<void>;
}

/** Takes the tenant's lease, or answers what holds it. */
export async function tryLease(
  services: Services,
  tenantId: string,
  operation: string,
): Promise<{ lease: Lease } | { busy: { operation: string; expires_at: string } }> {
  const { db, config, log } = services;
  const holder = randomUUID();
  const lock = await db.acquireLock(tenantId, operation, holder, config.backup.lockTtlSeconds);
  if (!lock.acquired) return { busy: { operation: lock.operation, expires_at: lock.expires_at } };
  return {
    lease: {
      tenantId,
      holder,
      async renew(ttlSeconds = config.backup.lockTtlSeconds) {
        if (!(await db.renewLock(tenantId, holder, ttlSeconds))) {
          throw fail("conflict", `lost the lease on tenant ${tenantId}; another operation took over`);
        }
      },
      async release() {
        await db
          .releaseLock(tenantId, holder)
          .catch((err) => log.warn({ err, tenant: tenantId }, "could not release lease"));
      },
    },
  };
}

/** Takes the tenant's lease; 409 naming what holds it when the tenant is busy. */
export async function takeLease(services: Services, tenantId: string, operation: string): Promise<Lease> {
  const taken = await tryLease(services, tenantId, operation);
  if ("busy" in taken) {
    throw fail(
      "conflict",
      `tenant ${tenantId} is busy: ${taken.busy.operation} running until ${taken.busy.expires_at}`,
      {
        ...taken.busy,
      },
    );
  }
  return taken.lease;
}
