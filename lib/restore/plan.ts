/**
 * Whether a backup fits the database as it is now, and which tables a restore replaces. Decided before
 * anything is touched: an incompatible backup is refused (422) with the reason, never half applied.
 */
import type { Manifest, ManifestTable } from "../backup/manifest.ts";
import { type Catalog, schemaFingerprint } from "../catalog.ts";
import { fail } from "../errors.ts";

export interface RestorePlan {
  /** Backup tables to restore, in the catalog's insert order. */
  tables: ManifestTable[];
  warnings: string[];
  /** Columns in the backup that the table no longer has, by table. */
  droppedColumns: Record<string, string[]>;
}

export function planRestore(
  manifest: Manifest,
  catalog: Catalog,
  requested: string[] | undefined,
): RestorePlan {
  if (manifest.tenant.root_table !== catalog.root || manifest.tenant.key !== catalog.key) {
    throw fail(
      "unprocessable",
      `backup was made for tenants in ${manifest.tenant.root_table}.${manifest.tenant.key}, this database uses ${catalog.root}.${catalog.key}`,
    );
  }
  const inBackup = new Map(manifest.tables.map((t) => [t.name, t]));
  if (requested) {
    const unknown = requested.filter((name) => !inBackup.has(name));
    if (unknown.length > 0) {
      throw fail("bad_request", `tables: not in this backup: ${unknown.join(", ")}`, { field: "tables" });
    }
  }
  const wanted = new Set(requested ?? manifest.tables.map((t) => t.name));
  const live = new Map(catalog.tables.map((t) => [t.name, t]));
  const missing = [...wanted].filter((name) => !live.has(name));
  if (missing.length > 0) {
    throw fail(
      "unprocessable",
      `tables in the backup are no longer tenant tables here: ${missing.join(", ")}`,
      {
        tables: missing,
      },
    );
  }

  const warnings: string[] = [];
  if (schemaFingerprint(catalog) !== manifest.schema_fingerprint) {
    warnings.push("the schema changed since this backup was made; see the column notes");
  }
  const droppedColumns: Record<string, string[]> = {};
  const tables = catalog.tables
    .filter((t) => wanted.has(t.name))
    .map((t) => inBackup.get(t.name) as ManifestTable);
  for (const table of tables) {
    const current = new Map((live.get(table.name)?.columns ?? []).map((c) => [c.name, c]));
    const dropped = table.columns
      .filter((c) => !current.has(c.name) || current.get(c.name)?.generated)
      .map((c) => c.name);
    if (dropped.length > 0) droppedColumns[table.name] = dropped;
    for (const column of table.columns) {
      const now = current.get(column.name);
      if (now && !now.generated && now.type !== column.type) {
        warnings.push(
          `${table.name}.${column.name}: type changed from ${column.type} to ${now.type}; values are converted`,
        );
      }
    }
    const added = [...current.values()].filter(
      (c) => !c.generated && !table.columns.some((b) => b.name === c.name),
    );
    for (const column of added) {
      warnings.push(
        `${table.name}.${column.name}: added since the backup; restored rows take its default${column.not_null && !column.has_default ? " (it has none and is NOT NULL: the restore will fail)" : ""}`,
      );
    }
  }
  if (!requested) {
    for (const table of catalog.tables) {
      if (!inBackup.has(table.name))
        warnings.push(`${table.name}: new since the backup; its rows are left as they are`);
    }
  }
  for (const fk of catalog.foreign_keys) {
    if (!fk.indexed && wanted.has(fk.ref_table)) {
      warnings.push(
        `foreign key ${fk.name} on ${fk.table}(${fk.columns.join(", ")}) has no index: deleting ${fk.ref_table} rows outside a restore scans ${fk.table} once per row`,
      );
    }
  }
  return { tables, warnings, droppedColumns };
}
