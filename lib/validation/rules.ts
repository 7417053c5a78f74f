/**
 * Validation rules: their kinds, the shape of each kind's parameters (one zod schema per kind, as a
 * discriminated union on `kind`), and the check of a rule against the tenant catalog, so that no rule
 * naming an unknown table or column, or a column of the wrong type for its kind, is ever stored.
 *
 * Rules belong to the schema, not to a tenant: every tenant's rows are checked against the same rules.
 */
import { z } from "zod";
import type { Catalog, CatalogColumn, CatalogTable } from "../catalog.ts";
import { fail } from "../errors.ts";

export const RULE_KINDS = [
  "required",
  "format",
  "range",
  "date_order",
  "not_in_past",
  "not_in_future",
  "references",
  "unique_in_tenant",
  "one_of",
] as const;
export type RuleKind = (typeof RULE_KINDS)[number];

export const FORMATS = ["email", "url", "uuid", "phone"] as const;

const identifier = z
  .string({ error: "is required: a column or table name" })
  .min(1, "is required")
  .max(63, "is longer than 63 characters (PostgreSQL's limit for a name)");

const noParams = z.object({}, { error: "must be an object of the kind's parameters" }).strict().default({});

/** A kind's parameters: an object of exactly the fields it takes. */
const paramsOf = <Shape extends z.ZodRawShape>(shape: Shape) =>
  z.object(shape, { error: "must be an object of the kind's parameters" }).strict();

const formatParams = paramsOf({
  format: z.enum(FORMATS, { error: `must be one of ${FORMATS.join(", ")}` }).optional(),
  pattern: z
    .string({ error: "must be a regular expression, as text" })
    .min(1, "must not be empty")
    .max(500, "is longer than 500 characters")
    .optional(),
}).superRefine((params, ctx) => {
  if ((params.format === undefined) === (params.pattern === undefined)) {
    ctx.addIssue({
      code: "custom",
      path: ["format"],
      message: "give exactly one of format (email, url, uuid, phone) or pattern (a regular expression)",
    });
  }
});

const finite = (what: string) =>
  z.number({ error: `must be a number (${what})` }).refine(Number.isFinite, `must be a finite number`);

const rangeParams = paramsOf({
  min: finite("the smallest value allowed").optional(),
  max: finite("the largest value allowed").optional(),
  positive: z.boolean({ error: "must be true or false" }).optional(),
}).superRefine((params, ctx) => {
  if (params.min === undefined && params.max === undefined && !params.positive) {
    ctx.addIssue({ code: "custom", path: ["min"], message: "give min, max or positive: true" });
  }
  if (params.min !== undefined && params.max !== undefined && params.min > params.max) {
    ctx.addIssue({ code: "custom", path: ["max"], message: `must not be below min (${params.min})` });
  }
});

const dateOrderParams = paramsOf({
  before: identifier,
  /** true: the two may not be equal either. */
  strict: z.boolean({ error: "must be true or false" }).optional(),
});

const referencesParams = paramsOf({ table: identifier, column: identifier });

const oneOfParams = paramsOf({
  values: z
    .array(z.string({ error: "must be text" }).max(200, "is longer than 200 characters"), {
      error: "must be a list of the allowed values, as text",
    })
    .min(1, "must list at least one value")
    .max(200, "may list at most 200 values"),
});

const base = {
  table: identifier,
  column: identifier,
  enabled: z.boolean({ error: "must be true or false" }).default(true),
};

/** A rule as POST validation-rules takes it; `params` is checked by the kind's own schema. */
export const ruleInput = z.discriminatedUnion(
  "kind",
  [
    z.object({ ...base, kind: z.literal("required"), params: noParams }).strict(),
    z.object({ ...base, kind: z.literal("format"), params: formatParams }).strict(),
    z.object({ ...base, kind: z.literal("range"), params: rangeParams }).strict(),
    z.object({ ...base, kind: z.literal("date_order"), params: dateOrderParams }).strict(),
    z.object({ ...base, kind: z.literal("not_in_past"), params: noParams }).strict(),
    z.object({ ...base, kind: z.literal("not_in_future"), params: noParams }).strict(),
    z.object({ ...base, kind: z.literal("references"), params: referencesParams }).strict(),
    z.object({ ...base, kind: z.literal("unique_in_tenant"), params: noParams }).strict(),
    z.object({ ...base, kind: z.literal("one_of"), params: oneOfParams }).strict(),
  ],
  { error: `must be one of ${RULE_KINDS.join(", ")}` },
);
export type RuleInput = z.output<typeof ruleInput>;

/** A stored rule, as tenant_backup_validation_rule_list answers it. */
export interface StoredRule {
  id: string;
  table: string;
  column: string;
  kind: RuleKind;
  params: Record<string, unknown>;
  enabled: boolean;
  created_at: string;
}

const NUMERIC = /^(smallint|integer|bigint|numeric|real|double precision|money)(\(.*\))?$/;
const TEMPORAL = /^(date|timestamp|time)/;

/** The catalog's table, or a 400 naming `field`. */
export function tenantTable(catalog: Catalog, name: string, field: string): CatalogTable {
  const table = catalog.tables.find((t) => t.name === name);
  if (!table) {
    throw fail("bad_request", `${field}: ${name} is not a tenant table`, { field });
  }
  return table;
}

function column(table: CatalogTable, name: string, field: string): CatalogColumn {
  const found = table.columns.find((c) => c.name === name);
  if (!found) throw fail("bad_request", `${field}: ${table.name} has no column ${name}`, { field });
  return found;
}

/**
 * Refuses (400, naming the field) a rule whose table or columns are not in the tenant catalog, or whose
 * column's type does not fit its kind: a range needs a number, dates in order and not_in_past/future a
 * date or time. What the catalog cannot tell (a regex PostgreSQL refuses) the database refuses on storing.
 */
export function checkAgainstCatalog(rule: RuleInput, catalog: Catalog): void {
  const table = tenantTable(catalog, rule.table, "table");
  const col = column(table, rule.column, "column");
  const isTemporal = (c: CatalogColumn) => TEMPORAL.test(c.type);
  switch (rule.kind) {
    case "range":
      if (!NUMERIC.test(col.type)) {
        throw fail("bad_request", `column: ${rule.column} is ${col.type}; a range rule needs a number`, {
          field: "column",
        });
      }
      return;
    case "date_order": {
      const other = column(table, rule.params.before, "params.before");
      for (const [c, field] of [
        [col, "column"],
        [other, "params.before"],
      ] as const) {
        if (!isTemporal(c)) {
          throw fail("bad_request", `${field}: ${c.name} is ${c.type}; dates in order need dates or times`, {
            field,
          });
        }
      }
      return;
    }
    case "not_in_past":
    case "not_in_future":
      if (!/^(date|timestamp)/.test(col.type)) {
        throw fail("bad_request", `column: ${rule.column} is ${col.type}; ${rule.kind} needs a date`, {
          field: "column",
        });
      }
      return;
    case "references": {
      const ref = tenantTable(catalog, rule.params.table, "params.table");
      column(ref, rule.params.column, "params.column");
      return;
    }
    default:
      return;
  }
}

/** Why a stored rule cannot run against this catalog (a table or column gone since), or null. */
export function staleReason(rule: StoredRule, catalog: Catalog): string | null {
  try {
    const { table, column, kind, params, enabled } = rule;
    checkAgainstCatalog(ruleInput.parse({ table, column, kind, params, enabled }), catalog);
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}
