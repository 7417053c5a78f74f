/**
 * Storage used by backups, per tenant and in total, against STORAGE_QUOTA_BYTES. Counted from storage,
 * the source of truth, in one listing: a tenant's bytes are every object under its folder as stored
 * (summaries, table files, and the files of runs that never finished, which take room too until retention
 * clears them); its backups are its summaries, one per backup.
 */
import type { StorageUsage } from "./api-answers.ts";
import { inventoriesOfAll, inventoryOf } from "./backup/inventory.ts";
import { tenantPrefix } from "./backup/paths.ts";
import type { Services } from "./services.ts";

/** Every tenant with anything stored, or only `tenantId` (then the total is that tenant's). */
export async function storageUsage(services: Services, tenantId?: string): Promise<StorageUsage> {
  const inventories =
    tenantId === undefined
      ? await inventoriesOfAll(services)
      : [inventoryOf(tenantId, await services.storage.list(tenantPrefix(tenantId)))];
  const tenants = inventories.map((inventory) => ({
    organization_id: inventory.tenantId,
    bytes: inventory.objects.reduce((n, o) => n + o.size, 0),
    backups: inventory.backups.length,
  }));
  const { quotaBytes, warnRatio } = services.config.usage;
  const total = tenants.reduce((n, t) => n + t.bytes, 0);
  return {
    total_bytes: total,
    quota_bytes: quotaBytes,
    used_ratio: Math.round((total / quotaBytes) * 10_000) / 10_000,
    warn_ratio: warnRatio,
    tenants: tenants.sort((a, b) => b.bytes - a.bytes || (a.organization_id < b.organization_id ? -1 : 1)),
  };
}
