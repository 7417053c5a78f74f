/**
 * GET /.netlify/functions/backup-usage[?organization_id=…]
 * Storage used by backups (lib/usage.ts): `{ usage: { total_bytes, quota_bytes, used_ratio, warn_ratio,
 * tenants: [{ organization_id, bytes, backups }] } }`, against STORAGE_QUOTA_BYTES. Without
 * organization_id every tenant with anything stored (cron secret or a super admin); with it, only that
 * tenant, whose bytes are then the total (also an admin of that organization).
 */
import { z } from "zod";
import type { UsageAnswer } from "../lib/api-answers.ts";
import { storageUsage } from "../lib/usage.ts";
import { endpoint } from "./endpoint.ts";
import { json } from "./http.ts";
import { organizationId } from "./organization-id.ts";

export const handleBackupUsage = endpoint({
  name: "backup-usage",
  methods: ["GET"],
  from: "query",
  input: z.object({ organization_id: organizationId.optional() }).strict(),
  access: "organization",
  async run({ input: query, services }) {
    return json(200, {
      success: true,
      usage: await storageUsage(services, query.organization_id),
    } satisfies UsageAnswer);
  },
});
