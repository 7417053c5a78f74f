/**
 * A new backup id that no run and no undo point has yet. An id is its millisecond and 16 random bits
 * (newBackupId), so it can repeat the id of one that exists (one started in the same millisecond, another
 * tenant's, or a test clock that stands still): a new backup would then carry on, or save its progress
 * into, that run, and an undo point would be captured beside another tenant's, or stored as a run that has
 * ended. Another id is drawn instead.
 */
import { randomUUID } from "node:crypto";
import { DatabaseError } from "../db/port.ts";
import { fail } from "../errors.ts";
import type { Services } from "../services.ts";
import { newBackupId } from "./paths.ts";

/** Draws before giving up: each draw repeats an existing id with odds of about 1 in 65,536. */
const DRAWS = 5;

/** The SQLSTATE of an apply whose undo point's id a run or another capture has (tenant_backup_capture_claim). */
const CAPTURE_ID_TAKEN = "TB006";

/**
 * Draws ids until `take` accepts one: it answers what it made of the id, or null when the id is taken
 * (`what`, e.g. "an undo point", says whose id it was in the log).
 */
export async function drawUnusedId<T>(
  services: Services,
  what: string,
  take: (id: string) => Promise<T | null>,
): Promise<T> {
  for (let draw = 1; ; draw++) {
    const id = newBackupId(services.now());
    const taken = await take(id);
    if (taken !== null) return taken;
    services.log.warn({ backupId: id }, `${what}: its new id is taken; drawing another`);
    if (draw === DRAWS) throw fail("internal", `no unused backup id after ${DRAWS} draws`);
  }
}

/**
 * Runs `apply`, which captures an undo point, under a new id, and answers that id with its result. The apply
 * claims the id in its own transaction and, when it is taken, fails whole having changed nothing: it then
 * runs again under another. A dry run captures nothing but clears what is captured under the id it is
 * given: it gets one no undo point can have, and answers no id.
 */
export async function withCaptureId<T>(
  services: Services,
  what: string,
  dryRun: boolean,
  apply: (captureId: string) => Promise<T>,
): Promise<{ captureId: string | null; result: T }> {
  if (dryRun) return { captureId: null, result: await apply(`dry-run-${randomUUID()}`) };
  return drawUnusedId(services, what, async (captureId) => {
    try {
      return { captureId, result: await apply(captureId) };
    } catch (err) {
      if (err instanceof DatabaseError && err.sqlState === CAPTURE_ID_TAKEN) return null;
      throw err;
    }
  });
}
