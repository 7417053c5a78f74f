/**
 * POST (or DELETE) /.netlify/functions/delete-backup {organization_id, backup_id, force?}
 * Deletes one backup: its summary first, then its files (lib/backup/delete.ts), under the tenant's lease
 * so that no restore is reading it meanwhile. Logged in backup_logs as backup_type 'delete'.
 * Cron secret, a super admin, or an admin of that organization.
 * 200 deleted; 404 no such backup; 409 the tenant is busy, or it is the tenant's only backup and `force`
 * is not true (deleting it would leave nothing to restore).
 */
import { z } from "zod";
import type { DeleteAnswer } from "../lib/api-answers.ts";
import { actorOf } from "../lib/auth/principal.ts";
import { deleteBackup } from "../lib/backup/delete.ts";
import { tenantInventory } from "../lib/backup/inventory.ts";
import { fail } from "../lib/errors.ts";
import { takeLease } from "../lib/lease.ts";
import { backupId } from "./backup-schemas.ts";
import { endpoint } from "./endpoint.ts";
import { json } from "./http.ts";
import { organizationId } from "./organization-id.ts";

const bodySchema = z
  .object({
    organization_id: organizationId,
    backup_id: backupId,
    force: z.boolean({ error: "must be true or false" }).default(false),
  })
  .strict();

export const handleDeleteBackup = endpoint({
  name: "delete-backup",
  methods: ["POST", "DELETE"],
  from: "body",
  input: bodySchema,
  access: "organization",
  async run({ input: body, services, principal }) {
    const tenantId = body.organization_id;

    const lease = await takeLease(services, tenantId, "delete");
    try {
      // Listed under the lease: what we see cannot change until we are done.
      const { backups } = await tenantInventory(services, tenantId);
      const backup = backups.find((b) => b.backupId === body.backup_id);
      if (!backup) {
        throw fail("not_found", `no backup ${body.backup_id} of organization ${tenantId}`, {
          field: "backup_id",
        });
      }
      if (backups.length === 1 && !body.force) {
        throw fail(
          "conflict",
          `backup ${body.backup_id} is the only backup of organization ${tenantId}; send "force": true to delete it anyway`,
          { field: "force" },
        );
      }
      const deleted = await deleteBackup(services, tenantId, backup, {
        type: "delete",
        reason: "deleted on request",
        actor: actorOf(principal),
        readManifest: true,
      });
      if (!deleted) {
        throw fail("not_found", `no backup ${body.backup_id} of organization ${tenantId}`, {
          field: "backup_id",
        });
      }
      return json(200, {
        success: true,
        message: `deleted backup ${deleted.backup_id} of ${deleted.backup_date} (${deleted.files} files)`,
        deleted: { organization_id: tenantId, ...deleted },
      } satisfies DeleteAnswer);
    } finally {
      await lease.release();
    }
  },
});
