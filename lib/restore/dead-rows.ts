/**
 * A restore into a tenant emptied moments before (its rows deleted by mistake, the restore started at
 * once) writes among the dead rows of that delete until autovacuum clears them, a minute or more later for
 * large tables, and every row it inserts goes into indexes still full of their entries. So before an
 * apply, on a direct connection, the tables it writes that autovacuum would vacuum next are vacuumed
 * (tenant_backup_vacuum_due): autovacuum's own work, done first, in the time the call can spare.
 */
import { errorMessage } from "../errors.ts";
import type { Services } from "../services.ts";

/** Less time than this to spare, and the tables are left to autovacuum. */
const MIN_SPARE_MS = 1_000;
/** The most one restore waits for VACUUM: the apply does without it, only slower. */
const MAX_MS = 60_000;

/**
 * Vacuums those of `tables` (of plan `planId`) that autovacuum would vacuum next, in at most `spareMs`
 * (capped at a minute); answers them. The apply's result does not depend on it, so a failure (the time
 * up included) is logged and answers none.
 */
export async function vacuumDeadRows(
  services: Services,
  planId: string,
  tables: string[],
  spareMs: number,
  context: Record<string, unknown>,
): Promise<string[]> {
  if (spareMs < MIN_SPARE_MS) return [];
  const vacuumed = await services.db.vacuumDue(planId, tables, Math.min(spareMs, MAX_MS)).catch((err) => {
    services.log.warn({ ...context, err: errorMessage(err) }, "could not vacuum the tables' dead rows");
    return [];
  });
  if (vacuumed.length > 0) services.log.info({ ...context, tables: vacuumed }, "vacuumed the tables first");
  return vacuumed;
}
