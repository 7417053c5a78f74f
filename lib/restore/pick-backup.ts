/**
 * Which backup a restore reads. By date: that UTC day's newest completed daily or manual backup. A
 * pre_restore backup (the undo point a restore leaves) is chosen only by its backup_id.
 */
import { inventoryOf } from "../backup/inventory.ts";
import type { Manifest } from "../backup/manifest.ts";
import { datePrefix } from "../backup/paths.ts";
import { readManifest } from "../backup/reader.ts";
import { fail } from "../errors.ts";
import type { BackupStorage } from "../storage/port.ts";

export async function pickBackupForRestore(
  storage: BackupStorage,
  tenantId: string,
  date: string,
  backupId?: string,
): Promise<{ manifest: Manifest; summaryPath: string }> {
  // Newest first; the listing of the day's folder holds only that day's backups.
  const { backups } = inventoryOf(tenantId, await storage.list(datePrefix(tenantId, date)));

  if (backupId) {
    const match = backups.find((b) => b.backupId === backupId);
    if (!match)
      throw fail("not_found", `no backup ${backupId} of organization ${tenantId} on ${date}`, {
        field: "backup_id",
      });
    return { manifest: await readManifest(storage, match.summaryPath), summaryPath: match.summaryPath };
  }
  for (const backup of backups) {
    const manifest = await readManifest(storage, backup.summaryPath);
    if (manifest.backup_type !== "pre_restore") return { manifest, summaryPath: backup.summaryPath };
  }
  throw fail("not_found", `no completed backup of organization ${tenantId} on ${date}`, {
    field: "backup_date",
  });
}
