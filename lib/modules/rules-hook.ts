/**
 * Where the data validation rules join an import: the enabled rules of the imported table, as the import's
 * SQL runs them (tenant_backup_module_import, p_rules) on the tenant's rows before and after its writes,
 * inside its transaction. A row of the file that breaks one is refused with its line and the rule in words.
 * Rules that cannot run against this catalog (their column is gone) are left to validate-tenant-data,
 * which reports them; they do not stop an import.
 */
import type { Catalog } from "../catalog.ts";
import type { Services } from "../services.ts";
import { rulesToRun } from "../validation/check.ts";
import { describeRule } from "../validation/messages.ts";
import type { StoredRule } from "../validation/rules.ts";

export interface ImportRowError {
  /** The CSV's physical line the row starts on; null for a row the database keyed, or the file as a whole. */
  line: number | null;
  column: string | null;
  message: string;
}

/** A rule as the import's SQL takes it: the rule, and what a row that breaks it is told. */
export type ImportRule = StoredRule & { message: string };

export async function importRules(
  services: Services,
  catalog: Catalog,
  table: string,
): Promise<ImportRule[]> {
  const { checkable } = await rulesToRun(services, catalog);
  return checkable
    .filter((rule) => rule.table === table)
    .map((rule) => ({ ...rule, message: describeRule(rule) }));
}
