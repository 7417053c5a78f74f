/**
 * A module table's import template: the header row a CSV must have, and what each column takes — its type,
 * whether a row must give it, the values it allows (an enum's labels, the column's own check constraints)
 * and an example value in the form the import reads.
 */
import { type CatalogTable, storedColumns } from "../catalog.ts";
import type { Services } from "../services.ts";
import { csvLine } from "./csv.ts";
import { columnRules } from "./module-db.ts";

export interface TemplateColumn {
  name: string;
  type: string;
  /** A row must give a value: NOT NULL without a default. */
  required: boolean;
  primary_key: boolean;
  /** The tenant key column: always the importing organization, may be left empty or out. */
  tenant_key: boolean;
  /** Left empty, the database fills it in (a default, an identity or serial key). */
  has_default: boolean;
  /** The tenant table this column points at, as "table(column)", or null. */
  references: string | null;
  allowed_values: string[] | null;
  checks: string[];
  example: string;
}

export interface ModuleTemplate {
  table: string;
  header: string;
  columns: TemplateColumn[];
}

export async function moduleTemplate(services: Services, tableName: string): Promise<ModuleTemplate> {
  const catalog = await services.db.catalog();
  const table = catalog.tables.find((t) => t.name === tableName) as CatalogTable;
  const rules = await columnRules(services.db, catalog.plan_id, tableName);
  const keyColumn = table.anchor === "key" ? catalog.key : null;
  const columns = storedColumns(table).map((column): TemplateColumn => {
    const fk = catalog.foreign_keys.find(
      (f) => f.table === tableName && f.columns.length === 1 && f.columns[0] === column.name,
    );
    const allowed = rules[column.name]?.enum ?? null;
    const tenantKey = column.name === keyColumn;
    const hasDefault = column.has_default || column.identity !== null;
    return {
      name: column.name,
      type: column.type,
      required: column.not_null && !hasDefault && !tenantKey,
      primary_key: table.primary_key?.includes(column.name) ?? false,
      tenant_key: tenantKey,
      has_default: hasDefault,
      references: fk ? `${fk.ref_table}(${fk.ref_columns.join(", ")})` : null,
      allowed_values: allowed,
      checks: rules[column.name]?.checks ?? [],
      example: allowed?.[0] ?? exampleOf(column.type),
    };
  });
  return { table: tableName, header: csvLine(columns.map((c) => c.name)), columns };
}

/** A value of the type as the import reads it (PostgreSQL's input syntax). */
function exampleOf(type: string): string {
  const base = type.replace(/\(.*\)/, "").replace(/\[\]$/, "");
  if (type.endsWith("[]")) return `{${exampleOf(base)}}`;
  const examples: Record<string, string> = {
    smallint: "7",
    integer: "42",
    bigint: "9007199254740993",
    numeric: "12.50",
    real: "1.5",
    "double precision": "1.5",
    boolean: "true",
    date: "2026-01-31",
    "timestamp with time zone": "2026-01-31 09:30:00+00",
    "timestamp without time zone": "2026-01-31 09:30:00",
    "time without time zone": "09:30:00",
    interval: "1 day",
    uuid: "5f0c2b8e-3a4d-4c1e-9b7a-2d6e8f1a0b3c",
    jsonb: '{"key": "value"}',
    json: '{"key": "value"}',
    bytea: "\\x0102",
    inet: "192.0.2.1",
  };
  return examples[base] ?? "text";
}
