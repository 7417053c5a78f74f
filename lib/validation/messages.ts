/**
 * What a result says: the rule broken, in words, and how to fix the offending rows. One line each, for
 * the report, its CSV and the page.
 */
import type { ValidationRule } from "../api-answers.ts";

/** The rule in words: "customers.email must be an email address". */
export function describeRule(rule: Pick<ValidationRule, "table" | "column" | "kind" | "params">): string {
  const target = `${rule.table}.${rule.column}`;
  const p = rule.params as Record<string, unknown>;
  switch (rule.kind) {
    case "required":
      return `${target} is required (not empty, not only spaces)`;
    case "format":
      return p.pattern !== undefined
        ? `${target} must match ${String(p.pattern)}`
        : `${target} must be a valid ${String(p.format)}`;
    case "range": {
      const parts = [
        p.min !== undefined ? `at least ${p.min}` : null,
        p.max !== undefined ? `at most ${p.max}` : null,
        p.positive ? "above 0" : null,
      ].filter(Boolean);
      return `${target} must be ${parts.join(" and ")}`;
    }
    case "date_order":
      return `${target} must be ${p.strict ? "before" : "on or before"} ${rule.table}.${String(p.before)}`;
    case "not_in_past":
      return `${target} must not be in the past`;
    case "not_in_future":
      return `${target} must not be in the future`;
    case "references":
      return `${target} must name an existing ${String(p.table)}.${String(p.column)} of the same organization`;
    case "unique_in_tenant":
      return `${target} must be unique within the organization`;
    case "one_of":
      return `${target} must be one of ${(p.values as string[]).join(", ")}`;
  }
}

/** The result's message: passed, or how many rows break the rule and what to do about them. */
export function resultMessage(
  rule: Pick<ValidationRule, "table" | "column" | "kind" | "params">,
  violations: number | null,
  error?: string,
): string {
  const rule_ = describeRule(rule);
  if (error !== undefined) return `not checked: ${error}`;
  if (violations === 0) return `ok: ${rule_}`;
  const rows = violations === 1 ? "1 row breaks" : `${violations} rows break`;
  return `${rows} the rule: ${rule_}. Fix: ${HINTS[rule.kind]}`;
}

const HINTS: Record<ValidationRule["kind"], string> = {
  required: "fill in the missing values, or remove the rule if the field is optional.",
  format: "correct the values listed (typos, spaces, missing parts) or clear them.",
  range: "correct the values outside the range.",
  date_order: "swap or correct the dates of the rows listed.",
  not_in_past: "move the dates forward, or close the records they belong to.",
  not_in_future: "correct the dates that lie ahead (often a wrong year).",
  references: "point the rows at records that exist, or create the missing ones.",
  unique_in_tenant: "merge or rename the duplicates listed.",
  one_of: "change the values to one of those allowed, or add the value to the rule.",
};
