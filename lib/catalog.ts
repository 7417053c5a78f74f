/**
 * The tenant catalog: which tables hold a tenant's rows, in which order, and how they are keyed. It is
 * computed inside PostgreSQL (tenant_backup_catalog) from the live schema; this file gives it types and
 * the schema fingerprint that lets a restore tell whether a backup still fits the database.
 */
import { createHash } from "node:crypto";

export interface CatalogColumn {
  name: string;
  type: string;
  not_null: boolean;
  generated: boolean;
  identity: "always" | "by_default" | null;
  has_default: boolean;
}

export interface CatalogTable {
  name: string;
  depth: number;
  /** root: the tenant table itself; key: has the tenant key column; parent: reached through `parent`. */
  anchor: "root" | "key" | "parent";
  /** The foreign key a child reaches its tenant through; `nullable` rows with NULL there belong to no tenant. */
  parent: {
    constraint: string;
    nullable: boolean;
    table: string;
    columns: string[];
    ref_columns: string[];
  } | null;
  primary_key: string[] | null;
  columns: CatalogColumn[];
  /** SQL predicate on alias t0 selecting one tenant's rows, the tenant id being $1. */
  scope: string;
  /** The stored columns as output text, in column order (read by the export in the database). */
  select_list: string;
}

export interface CatalogForeignKey {
  name: string;
  table: string;
  columns: string[];
  ref_table: string;
  ref_columns: string[];
  ref_is_tenant: boolean;
  on_delete: "no action" | "restrict" | "cascade" | "set null" | "set default";
  deferrable: boolean;
  indexed: boolean;
}

export interface Catalog {
  /** The id under which the database keeps this catalog for page reads. */
  plan_id: string;
  schema: string;
  root: string;
  key: string;
  root_key: string;
  /** true when foreign keys between tenant tables form a cycle; the order is then only best effort. */
  cycle: boolean;
  /** In insert order: parents before children. */
  tables: CatalogTable[];
  foreign_keys: CatalogForeignKey[];
}

/** The columns a backup stores for a table: all but generated ones, which a restore recomputes. */
export function storedColumns(table: CatalogTable): CatalogColumn[] {
  return table.columns.filter((column) => !column.generated);
}

/**
 * A fingerprint of what a backup's rows depend on: the tenant tables, their stored columns and types,
 * and their primary keys. Equal fingerprints mean a backup's files load into the database unchanged.
 */
export function schemaFingerprint(catalog: Catalog): string {
  const shape = [...catalog.tables]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((table) => ({
      name: table.name,
      key: table.primary_key,
      columns: storedColumns(table).map((column) => [column.name, column.type]),
    }));
  return createHash("sha256").update(JSON.stringify(shape)).digest("hex");
}
