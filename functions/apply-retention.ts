/**
 * POST /.netlify/functions/apply-retention {organization_id?, dry_run?}
 * The retention pass on demand (the daily run applies it after each completed run): deletes the backups
 * the policy no longer keeps and orphaned files of runs that never completed (lib/retention/apply.ts).
 * `dry_run: true` lists what it would delete and deletes nothing.
 * Without organization_id: every tenant (cron secret or a super admin). With it: that tenant (also an
 * admin of that organization).
 * 200 done; 202 some tenants were busy or not reached in the time budget (call again); 500 a tenant failed.
 */
import { z } from "zod";
import { actorOf } from "../lib/auth/principal.ts";
import { applyRetention } from "../lib/retention/apply.ts";
import { endpoint } from "./endpoint.ts";
import { json } from "./http.ts";
import { organizationId } from "./organization-id.ts";

const bodySchema = z
  .object({
    organization_id: organizationId.optional(),
    dry_run: z.boolean({ error: "must be true or false" }).default(false),
  })
  .strict();

export const handleApplyRetention = endpoint({
  name: "apply-retention",
  methods: ["POST"],
  from: "body",
  input: bodySchema,
  access: "organization",
  async run({ input: body, services, principal, deadline }) {
    const result = await applyRetention(services, {
      tenantId: body.organization_id,
      dryRun: body.dry_run,
      deadline,
      actor: actorOf(principal),
    });
    const status = result.failed_tenants > 0 ? 500 : result.complete ? 200 : 202;
    const found = result.tenants.reduce((n, t) => n + t.expired.length, 0);
    const orphans = result.tenants.reduce((n, t) => n + t.orphans.length, 0);
    const message = result.dry_run
      ? `would delete ${found} backups and the files of ${orphans} unfinished runs`
      : result.failed_tenants > 0
        ? `${result.failed_tenants} tenants failed; deleted ${result.deleted_backups} backups elsewhere`
        : result.complete
          ? `deleted ${result.deleted_backups} backups and the files of ${result.deleted_orphans} unfinished runs`
          : `deleted ${result.deleted_backups} backups; ${result.tenants.length - result.tenants.filter((t) => t.status === "done").length} tenants were busy or not reached: call again`;
    return json(status, { success: result.failed_tenants === 0, message, retention: result });
  },
});
