/**
 * Waiting for a dead holder's lease to run out: polled, not slept, so that the test neither races the TTL
 * on a slow machine nor waits longer than it must on a fast one.
 */
import { vi } from "vitest";
import type { Services } from "../../lib/services.ts";

/** Resolves once another holder can take the tenant's lease (taken and given back at once). */
export async function waitForFreeLease(services: Services, tenantId: string, timeoutMs = 10_000) {
  await vi.waitFor(
    async () => {
      const lock = await services.db.acquireLock(tenantId, "probe", "probe-holder", 60);
      if (!lock.acquired) throw new Error(`the lease on ${tenantId} is still held by ${lock.operation}`);
      await services.db.releaseLock(tenantId, "probe-holder");
    },
    { timeout: timeoutMs, interval: 50 },
  );
}
