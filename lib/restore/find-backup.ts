/**
 * Which backup a restore reads. By date: that UTC day's newest completed daily or manual backup. A
 * pre_restore backup (the undo point a restore leaves) is chosen only by its backup_id.
 */
import type { Manifest } from "../backup/manifest.ts";
import { datePrefix, parseSummaryPath } from "../backup/paths.ts";
import { readManifest } from "../backup/reader.ts";
import { fail } from "../errors.ts";
import type { BackupStorage } from "../storage/port.ts";

export async function findBackup(
  storage: BackupStorage,
  tenantId: string,
  date: string,
  backupId?: string,
): Promise<{ manifest: Manifest; summaryPath: string }> {
  const objects = await storage.list(datePrefix(tenantId, date));
  const summaries = objects
    .map((o) => ({ path: o.path, parsed: parseSummaryPath(o.path) }))
    .filter((s) => s.parsed && s.parsed.tenantId === tenantId && s.parsed.date === date)
    .sort((a, b) => ((a.parsed?.backupId ?? "") < (b.parsed?.backupId ?? "") ? 1 : -1));

  if (backupId) {
    const match = summaries.find((s) => s.parsed?.backupId === backupId);
    if (!match)
      throw fail("not_found", `no backup ${backupId} of organization ${tenantId} on ${date}`, {
        field: "backup_id",
      });
    return { manifest: await readManifest(storage, match.path), summaryPath: match.path };
  }
  for (const summary of summaries) {
    const manifest = await readManifest(storage, summary.path);
    if (manifest.backup_type !== "pre_restore") return { manifest, summaryPath: summary.path };
  }
  throw fail("not_found", `no completed backup of organization ${tenantId} on ${date}`, {
    field: "backup_date",
  });
}
