/**
 * A new backup id that no run has yet. An id is its millisecond and 16 random bits (newBackupId), so it can
 * repeat the id of a run that exists (one started in the same millisecond, another tenant's, or a test
 * clock that stands still): a new backup would then carry on, or save its progress into, that run, and a
 * restore's undo point would be stored as it, which has ended, and so never be stored at all. Another id
 * is drawn instead.
 */
import { fail } from "../errors.ts";
import type { Services } from "../services.ts";
import { newBackupId } from "./paths.ts";

/** Draws before giving up: each draw repeats an existing id with odds of about 1 in 65,536. */
const DRAWS = 5;

/**
 * Draws ids until `take` accepts one: it answers what it made of the id, or null when the id names a run
 * that exists (`what`, e.g. "an undo point", says whose id it was in the log).
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
    services.log.warn({ backupId: id }, `${what}: its new id named an existing run; drawing another`);
    if (draw === DRAWS) throw fail("internal", `no unused backup id after ${DRAWS} draws`);
  }
}
