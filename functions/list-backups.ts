/**
 * GET /.netlify/functions/list-backups?organization_id=…[&history_limit=50][&history_before=<id>]
 * The tenant's available backups (newest first) and its history from backup_logs, paged by id.
 */
import { z } from "zod";
import { listBackups } from "../lib/backup/listing.ts";
import { fail } from "../lib/errors.ts";
import type { Services } from "../lib/services.ts";
import { authenticate } from "./auth.ts";
import { json, requireMethod, validate } from "./http.ts";
import { organizationId } from "./schemas.ts";

const querySchema = z
  .object({
    organization_id: organizationId,
    history_limit: z.coerce.number().int().min(1).max(500).default(50),
    history_before: z.coerce.number().int().positive().optional(),
    secret: z.string().optional(),
  })
  .strict();

export async function handleListBackups(request: Request, services: Services): Promise<Response> {
  requireMethod(request, "GET");
  authenticate(request, services.config.cronSecret);
  const query = validate(querySchema, Object.fromEntries(new URL(request.url).searchParams));

  const tenant = await services.db.getTenant(query.organization_id);
  const backups = await listBackups(services, query.organization_id);
  // A tenant deleted from the app may still have backups: that is when they matter most.
  if (!tenant && backups.length === 0) {
    throw fail("not_found", `no organization ${query.organization_id}`, { field: "organization_id" });
  }
  const history = await services.db.history(query.organization_id, query.history_limit, query.history_before);
  const last = history.at(-1);
  return json(200, {
    success: true,
    organization_id: query.organization_id,
    organization_name: tenant?.name ?? backups[0]?.organization_name ?? null,
    backups,
    history,
    history_next_before: history.length === query.history_limit && last ? last.id : null,
  });
}
