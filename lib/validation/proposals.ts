/**
 * Rules the schema suggests, for an admin to accept (validation-rules GET `proposed`, then POST one as it
 * is): the schema itself already refuses what it can (NOT NULL, CHECK, foreign keys), so these cover what
 * it lets through by the look of a column: a NOT NULL text that may still be blank, e-mail addresses,
 * web addresses and phone numbers by their column names, and pairs of dates named as a start and an end.
 * Rules already stored are not proposed again.
 */
import type { ProposedRule, ValidationRule } from "../api-answers.ts";
import type { Catalog, CatalogColumn, CatalogTable } from "../catalog.ts";

const TEXT = /^(text|character varying|character|citext|varchar)(\(.*\))?$/;
const TEMPORAL = /^(date|timestamp)/;

const NAMED_FORMATS: { format: "email" | "url" | "phone"; name: RegExp }[] = [
  { format: "email", name: /(^|_)e_?mail(_address)?$/i },
  { format: "url", name: /(^|_)(url|website|homepage|web_site)$/i },
  { format: "phone", name: /(^|_)(phone|mobile|telephone|tel)(_number|_no)?$/i },
];

/** Names of a start and its end: start_date/end_date, starts_at/ends_at, valid_from/valid_to, … */
const DATE_PAIRS: [RegExp, (m: RegExpExecArray) => string[]][] = [
  [/^(.*?)starts?(_.*)?$/, (m) => [`${m[1]}end${m[2] ?? ""}`, `${m[1]}ends${m[2] ?? ""}`]],
  [/^(.*_)?from$/, (m) => [`${m[1] ?? ""}to`, `${m[1] ?? ""}until`]],
];

export function proposeRules(catalog: Catalog, existing: ValidationRule[]): ProposedRule[] {
  const taken = new Set(existing.map(ruleKey));
  const proposed: ProposedRule[] = [];
  for (const table of catalog.tables) {
    for (const column of table.columns) {
      if (column.generated || column.name === catalog.key) continue;
      for (const rule of proposalsFor(table, column)) {
        if (!taken.has(ruleKey(rule))) proposed.push(rule);
      }
    }
  }
  return proposed;
}

function proposalsFor(table: CatalogTable, column: CatalogColumn): ProposedRule[] {
  const out: ProposedRule[] = [];
  const base = { table: table.name, column: column.name };
  const isKey = table.primary_key?.includes(column.name) ?? false;
  if (TEXT.test(column.type) && column.not_null && !isKey) {
    out.push({
      ...base,
      kind: "required",
      params: {},
      reason: "NOT NULL text: the schema refuses NULL but lets an empty or blank value through",
    });
  }
  if (TEXT.test(column.type)) {
    for (const { format, name } of NAMED_FORMATS) {
      if (name.test(column.name)) {
        out.push({ ...base, kind: "format", params: { format }, reason: `named like a ${format}` });
      }
    }
  }
  if (TEMPORAL.test(column.type)) {
    for (const [pattern, ends] of DATE_PAIRS) {
      const m = pattern.exec(column.name);
      if (!m) continue;
      const end = table.columns.find((c) => ends(m).includes(c.name) && TEMPORAL.test(c.type));
      if (end) {
        out.push({
          ...base,
          kind: "date_order",
          params: { before: end.name },
          reason: `${column.name} and ${end.name} look like a start and its end`,
        });
      }
    }
  }
  return out;
}

/** Equal rules have equal keys (params compared with sorted keys). */
function ruleKey(rule: Pick<ValidationRule, "table" | "column" | "kind" | "params">): string {
  const params = Object.fromEntries(Object.entries(rule.params).sort(([a], [b]) => a.localeCompare(b)));
  return JSON.stringify([rule.table, rule.column, rule.kind, params]);
}
