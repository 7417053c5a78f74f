/**
 * GET /.netlify/functions/list-backups?organization_id=…
 *   [&type=daily|manual|pre_restore][&limit=100][&before=<backup_id>]
 *   [&history_limit=50][&history_before=<id>]
 * The tenant's available backups (newest first, paged by backup id) and its history from backup_logs
 * (backups, restores, dry runs, failures, deletions; newest first, paged by log id), and its schedule with
 * the next scheduled run (as backup-schedule answers it).
 * Cron secret, a super admin, or an admin of that organization.
 */
import { z } from "zod";
import type { BackupList } from "../lib/api-answers.ts";
import { listBackupPage } from "../lib/backup/backup-page.ts";
import { fail } from "../lib/errors.ts";
import { readSchedule } from "../lib/schedule/tenant-schedule.ts";
import { backupId, backupType } from "./backup-schemas.ts";
import { endpoint } from "./endpoint.ts";
import { json } from "./http.ts";
import { organizationId } from "./organization-id.ts";

const querySchema = z
  .object({
    organization_id: organizationId,
    type: backupType.optional(),
    limit: z.coerce.number().int().min(1).max(500).default(100),
    before: backupId.optional(),
    history_limit: z.coerce.number().int().min(1).max(500).default(50),
    history_before: z.coerce.number().int().positive().optional(),
  })
  .strict();

export const handleListBackups = endpoint({
  name: "list-backups",
  methods: ["GET"],
  from: "query",
  input: querySchema,
  access: "organization",
  async run({ input: query, services }) {
    const [tenant, page] = await Promise.all([
      services.db.getTenant(query.organization_id),
      listBackupPage(services, query.organization_id, {
        limit: query.limit,
        before: query.before,
        type: query.type,
      }),
    ]);
    // A tenant deleted from the app may still have backups: that is when they matter most.
    if (!tenant && !page.hasAny) {
      throw fail("not_found", `no organization ${query.organization_id}`, { field: "organization_id" });
    }
    const [history, schedule] = await Promise.all([
      services.db.history(query.organization_id, query.history_limit, query.history_before),
      readSchedule(services, query.organization_id),
    ]);
    const last = history.at(-1);
    const named = page.backups.find((b) => b.status === "completed");
    return json(200, {
      success: true,
      organization_id: query.organization_id,
      organization_name:
        tenant?.name ?? (named && "organization_name" in named ? named.organization_name : null),
      backups: page.backups,
      backups_next_before: page.nextBefore,
      history,
      history_next_before: history.length === query.history_limit && last ? last.id : null,
      schedule,
    } satisfies BackupList);
  },
});
