/**
 * Checks a tenant's rows against the enabled rules, inside PostgreSQL: one query per rule
 * (tenant_backup_validation_check), scoped to the tenant by the catalog, on either database path. A rule
 * that cannot run (its column was dropped since, the check timed out, the call's time ran out) is
 * reported as not checked rather than failing the whole report.
 */
import type { ValidationReport, ValidationResult } from "../api-answers.ts";
import type { Catalog } from "../catalog.ts";
import { DatabaseError } from "../db/port.ts";
import type { Services } from "../services.ts";
import { resultMessage } from "./messages.ts";
import { type StoredRule, staleReason } from "./rules.ts";

/** Offending keys kept per rule. */
export const SAMPLE_KEYS = 10;
/** The longest one rule's check may take: the functions' own limit through PostgREST (55 s). */
export const CHECK_LIMIT_MS = 55_000;

/** What the database answers per rule: a count and the first keys, or why it could not check it. */
export interface RawResult {
  rule_id: string;
  violations?: number;
  sample_keys?: Record<string, string>[];
  error?: string;
}

/** The rules a report checks: the enabled ones, as the database takes them. */
export async function enabledRules(services: Services): Promise<StoredRule[]> {
  return (await services.db.validationRules()).filter((rule) => rule.enabled);
}

/**
 * The enabled rules split for a check that runs inside another transaction (a dry-run restore's apply; an
 * import's staged rows): `checkable` to pass to tenant_backup_validation_run there, and `stale`, the
 * rules that cannot run against this catalog, already as results. reportOf(rules, [...raw, ...stale], at)
 * makes the report of what that run answers.
 */
export async function rulesToRun(
  services: Services,
  catalog: Catalog,
): Promise<{ rules: StoredRule[]; checkable: StoredRule[]; stale: RawResult[] }> {
  const rules = await enabledRules(services);
  const checkable: StoredRule[] = [];
  const stale: RawResult[] = [];
  for (const rule of rules) {
    const reason = staleReason(rule, catalog);
    if (reason) stale.push({ rule_id: rule.id, error: reason });
    else checkable.push(rule);
  }
  return { rules, checkable, stale };
}

/** The report of one tenant, checked now. `deadline` (epoch ms): rules not started by then are not checked. */
export async function validateTenant(
  services: Services,
  tenantId: string,
  options: { catalog?: Catalog; deadline?: number; rules?: StoredRule[] } = {},
): Promise<ValidationReport> {
  const catalog = options.catalog ?? (await services.db.catalog());
  const rules = options.rules ?? (await enabledRules(services));
  const now = services.now();
  const raw: RawResult[] = [];
  for (const rule of rules) {
    const stale = staleReason(rule, catalog);
    if (stale) {
      raw.push({ rule_id: rule.id, error: stale });
    } else if (options.deadline !== undefined && services.now().getTime() >= options.deadline) {
      raw.push({ rule_id: rule.id, error: "the call's time ran out before this rule; check again" });
    } else {
      // Within what is left of the call's time, and never longer than one request may take.
      const left =
        options.deadline === undefined ? CHECK_LIMIT_MS : options.deadline - services.now().getTime();
      raw.push(await checkOne(services, catalog, tenantId, rule, now, Math.min(CHECK_LIMIT_MS, left)));
    }
  }
  return reportOf(rules, raw, now);
}

async function checkOne(
  services: Services,
  catalog: Catalog,
  tenantId: string,
  rule: StoredRule,
  now: Date,
  timeoutMs: number,
): Promise<RawResult> {
  try {
    const found = await services.db.validationCheck({
      planId: catalog.plan_id,
      tenantId,
      rule,
      now,
      sample: SAMPLE_KEYS,
      timeoutMs,
    });
    return { rule_id: rule.id, ...found };
  } catch (err) {
    if (!(err instanceof DatabaseError)) throw err;
    if (err.sqlState === "57014") {
      return {
        rule_id: rule.id,
        error: "the check took longer than the database allows (statement timeout)",
      };
    }
    // A value the rule cannot read (text in a column compared as a number): the rule, not the data.
    if (err.code === "failed" || err.code === "not_found") return { rule_id: rule.id, error: err.message };
    throw err;
  }
}

/** The report: each rule's result with its message, and the summary. */
export function reportOf(rules: StoredRule[], raw: RawResult[], at: Date): ValidationReport {
  const byId = new Map(raw.map((r) => [r.rule_id, r]));
  const results: ValidationResult[] = rules.map((rule) => {
    const found = byId.get(rule.id);
    const error = found?.error ?? (found ? undefined : "not checked");
    const violations = error === undefined ? (found?.violations ?? 0) : null;
    return {
      rule_id: rule.id,
      table: rule.table,
      column: rule.column,
      kind: rule.kind,
      params: rule.params,
      violations,
      sample_keys: found?.sample_keys ?? [],
      message: resultMessage(rule, violations, error),
      ...(error === undefined ? {} : { error }),
    };
  });
  return {
    summary: {
      rules: rules.length,
      failed: results.filter((r) => (r.violations ?? 0) > 0).length,
      violations: results.reduce((n, r) => n + (r.violations ?? 0), 0),
      errors: results.filter((r) => r.error !== undefined).length,
      checked_at: at.toISOString(),
    },
    results,
  };
}
