/**
 * POST /.netlify/functions/offsite-copy {}
 * Brings the off-site copy (OFFSITE_S3_*) up to date: each tenant's first backup of each ISO week within
 * OFFSITE_RETENTION_DAYS is copied, verified by reading it back, summary last; off-site backups older than
 * that are removed (never a tenant's newest), and then the off-site chunks and file copies no off-site
 * backup names. Resumable: call it on a schedule (daily, after the backup
 * run); a call that runs out of its time budget answers 202 and the next one goes on.
 * Cron secret or a super admin. 200 done; 202 call again; 400 no off-site copy configured; 500 some backup
 * could not be copied or removed (named in `offsite.failed`), or a tenant's sweep stopped
 * (`offsite.sweep_failed`).
 */
import { z } from "zod";
import { syncOffsite } from "../lib/offsite/copy.ts";
import { endpoint } from "./endpoint.ts";
import { json } from "./http.ts";

export const handleOffsiteCopy = endpoint({
  name: "offsite-copy",
  methods: ["POST"],
  from: "body",
  input: z.object({}).strict(),
  access: "super_admin",
  async run({ services, deadline }) {
    const result = await syncOffsite(services, { deadline });
    const failed = result.failed.length + result.sweep_failed.length;
    const status = failed > 0 ? 500 : result.complete ? 200 : 202;
    const message =
      `copied ${result.copied.length} backups off-site (${result.present} there already), ` +
      `removed ${result.removed.length} and ${result.chunks_removed} chunks no off-site backup names` +
      (failed > 0 ? `; ${failed} failed` : result.complete ? "" : "; the time budget ran out: call again");
    return json(status, { success: failed === 0, message, offsite: result });
  },
});
