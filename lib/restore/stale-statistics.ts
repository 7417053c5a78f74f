/**
 * Statistics taken while a tenant had no rows in a table (after it was emptied, before a restore into
 * it) say the tenant has about none there, until autovacuum analyzes the table again, a minute or more
 * after the rows came back. An apply planned on them can read a temp table of all the tenant's rows once
 * per tenant row (an apply of 1M rows ran past 13 minutes). So before an apply, PostgreSQL analyzes the
 * tables it writes that autovacuum would analyze next (tenant_backup_analyze_stale: their key and indexed
 * columns, what the apply's plans read), in a call of its own, which a dry run's rollback does not undo.
 */
import { errorMessage } from "../errors.ts";
import type { Services } from "../services.ts";

/**
 * Analyzes those of `tables` (of plan `planId`) whose statistics autovacuum would take next; answers
 * them. The apply's result does not depend on it, so a failure is logged and answers none.
 */
export async function analyzeStaleTables(
  services: Services,
  planId: string,
  tables: string[],
  context: Record<string, unknown>,
): Promise<string[]> {
  const analyzed = await services.db.analyzeStale(planId, tables).catch((err) => {
    services.log.warn({ ...context, err: errorMessage(err) }, "could not refresh the tables' statistics");
    return [];
  });
  if (analyzed.length > 0)
    services.log.info({ ...context, tables: analyzed }, "asked PostgreSQL to analyze the tables first");
  return analyzed;
}
