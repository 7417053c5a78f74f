/** Reading back what a backup holds, and the operations a trial runs to completion in its own process. */

import type { Manifest } from "../../lib/backup/manifest.ts";
import { runManualBackup } from "../../lib/backup/manual.ts";
import { readManifest } from "../../lib/backup/reader.ts";
import { restoreTenant } from "../../lib/restore/restore-tenant.ts";
import type { Services } from "../../lib/services.ts";
import { parseRows, readVerifiedFile } from "../../tests/support/backup-files.ts";
import { TENANT } from "./world.ts";

const HOUR = 3_600_000;

/** A manual backup run to completion (continuing an unfinished one, as the endpoint does). */
export async function backupToEnd(services: Services, budgetMs = HOUR) {
  for (let calls = 1; calls <= 500; calls++) {
    const result = await runManualBackup(services, TENANT, { deadline: Date.now() + budgetMs });
    if (result.status === "completed") return { ...result, calls };
  }
  throw new Error("the backup did not complete in 500 calls");
}

/** A real restore of `backupId` run to its end; throws unless it succeeded. */
export async function restoreToEnd(services: Services, date: string, backupId: string) {
  for (let calls = 1; calls <= 500; calls++) {
    const outcome = await restoreTenant(services, {
      tenantId: TENANT,
      backupDate: date,
      backupId,
      dryRun: false,
      deadline: Date.now() + HOUR,
    });
    if (outcome.status === "done") {
      if (!outcome.report.success) throw new Error(`restore failed: ${JSON.stringify(outcome.report.error)}`);
      return outcome;
    }
  }
  throw new Error("the restore did not end in 500 calls");
}

/** Every summary stored for the tenant, read and checked against the files it names; problems as text. */
export async function checkSummaries(
  services: Services,
): Promise<{ manifests: Manifest[]; problems: string[] }> {
  const manifests: Manifest[] = [];
  const problems: string[] = [];
  const summaries = (await services.storage.list(`tenant-backups/${TENANT}/`)).filter((o) =>
    o.path.includes("/summary-"),
  );
  for (const { path } of summaries) {
    try {
      const manifest = await readManifest(services.storage, path);
      for (const table of manifest.tables) {
        let rows = 0;
        for (const file of table.files)
          rows += parseRows(await readVerifiedFile(services.storage, file)).length;
        if (rows !== table.row_count)
          problems.push(`${path}: ${table.name} holds ${rows} rows, summary says ${table.row_count}`);
      }
      manifests.push(manifest);
    } catch (err) {
      problems.push(`${path}: ${(err as Error).message}`);
    }
  }
  return { manifests, problems };
}

/** The rows of one table of a backup, as objects of column texts. */
export async function backupRows(services: Services, manifest: Manifest, tableName: string) {
  const table = manifest.tables.find((t) => t.name === tableName);
  if (!table) throw new Error(`the backup has no table ${tableName}`);
  const names = table.columns.map((c) => c.name);
  const out: Record<string, string | null>[] = [];
  for (const file of table.files) {
    for (const row of parseRows(await readVerifiedFile(services.storage, file))) {
      out.push(Object.fromEntries(names.map((n, i) => [n, row[i] ?? null])));
    }
  }
  return out;
}

/** The summary of one backup id, read from storage (an undo point is read back the way a restore would). */
export async function manifestOf(services: Services, backupId: string): Promise<Manifest> {
  const found = (await services.storage.list(`tenant-backups/${TENANT}/`)).find(
    (o) => o.path.includes("/summary-") && o.path.includes(backupId),
  );
  if (!found) throw new Error(`no summary of ${backupId} in storage`);
  return readManifest(services.storage, found.path);
}
