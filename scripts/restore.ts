/**
 * `npm run restore -- --organization <id> --date <YYYY-MM-DD> [--backup-id <id>] [--tables a,b] [--apply]
 *                     [--allow-dropped-columns] [--files true|false|only] [--source primary|offsite]`
 *
 * The same restore as the restore-tenant-data endpoint, run from any machine with the environment of the
 * deployment (DATABASE_URL, or SUPABASE_URL + SUPABASE_SERVICE_ROLE_KEY, and the storage settings), for
 * tenants too large for one function call: no 60 s limit here. A dry run unless --apply is given.
 * `--source offsite` reads the backup from the off-site copy (OFFSITE_S3_*), as when the primary is gone.
 */
import { parseArgs } from "node:util";
import { z } from "zod";
import { TENANT_ID_PATTERN } from "../lib/backup/paths.ts";
import { loadConfig } from "../lib/config.ts";
import { requireOffsite } from "../lib/offsite/copy.ts";
import { restoreTenant } from "../lib/restore/restore-tenant.ts";
import { createServices } from "../lib/services.ts";
import { isCalendarDay } from "../lib/time.ts";

const { values } = parseArgs({
  options: {
    organization: { type: "string" },
    date: { type: "string" },
    "backup-id": { type: "string" },
    tables: { type: "string" },
    apply: { type: "boolean", default: false },
    "allow-dropped-columns": { type: "boolean", default: false },
    files: { type: "string" },
    source: { type: "string", default: "primary" },
  },
});

const args = z
  .object({
    organization: z.string().regex(TENANT_ID_PATTERN, "--organization must be an organization id"),
    date: z.string().refine(isCalendarDay, "--date must be a day written YYYY-MM-DD"),
    files: z
      .enum(["true", "false", "only"], { message: "--files must be true, false or only" })
      .transform((v) => (v === "only" ? v : v === "true"))
      .optional(),
    source: z.enum(["primary", "offsite"], { message: "--source must be primary or offsite" }),
  })
  .safeParse(values);
if (!args.success) {
  console.error(args.error.issues.map((i) => i.message || `--${String(i.path[0])} is required`).join("\n"));
  process.exit(2);
}

// Without the function's time budget: a restore from a machine may take as long as it needs.
const services = createServices(loadConfig({ BACKUP_TIME_BUDGET_MS: String(6 * 3600_000), ...process.env }));
try {
  // One tenant, one spelling: the lease and the storage folder use the tenant key's canonical text.
  const key = await services.db.tenantKey(args.data.organization);
  if (!key.valid) {
    console.error(`--organization is not a valid ${key.type} (${key.message})`);
    process.exit(2);
  }
  const from =
    args.data.source === "offsite" ? { ...services, storage: requireOffsite(services, "source") } : services;
  const outcome = await restoreTenant(from, {
    tenantId: key.id,
    backupDate: args.data.date,
    backupId: values["backup-id"],
    dryRun: !values.apply,
    tables: values.tables ? values.tables.split(",").map((t) => t.trim()) : undefined,
    allowDroppedColumns: values["allow-dropped-columns"],
    files: args.data.files,
    offsite: args.data.source === "offsite",
    deadline: services.now().getTime() + 6 * 3600_000,
  });
  if (outcome.status !== "done") throw new Error(`the restore stopped before it ended (${outcome.status})`);
  console.log(
    JSON.stringify(
      {
        report: outcome.report,
        files: outcome.files,
        warnings: outcome.warnings,
        undo_backup_id: outcome.undoBackupId,
      },
      null,
      2,
    ),
  );
  process.exitCode = outcome.report.success && outcome.files?.success !== false ? 0 : 1;
} catch (err) {
  console.error((err as Error).message);
  process.exitCode = 1;
} finally {
  await services.close();
}
