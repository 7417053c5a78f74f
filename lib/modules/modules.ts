/**
 * Modules: what an admin exports and imports as CSV. A module is a named group of tenant tables (MODULES)
 * or, for every tenant table in no group, that table alone under its own name. Groups are checked against
 * the live catalog each time, so that a table renamed since the variable was written is a clear error.
 */
import { z } from "zod";
import type { Catalog } from "../catalog.ts";
import { fail } from "../errors.ts";

export interface Module {
  name: string;
  /** Tenant tables, in the catalog's order (parents first). */
  tables: string[];
}

/** The modules of the catalog: MODULES' groups first, in their order, then each remaining table. */
export function modulesOf(catalog: Catalog, groups: { name: string; tables: string[] }[]): Module[] {
  const tenantTables = catalog.tables.map((t) => t.name);
  const schema = z
    .array(
      z.object({
        name: z.string(),
        tables: z.array(
          z.string().refine((t) => tenantTables.includes(t), {
            error: (issue) => `${String(issue.input)} is not a tenant table`,
          }),
        ),
      }),
    )
    .superRefine((list, ctx) => {
      const seen = new Map<string, string>();
      for (const group of list) {
        if (list.filter((g) => g.name === group.name).length > 1 || tenantTables.includes(group.name)) {
          ctx.addIssue({
            code: "custom",
            message: `module name ${group.name} is used twice (or is a table's)`,
          });
        }
        for (const table of group.tables) {
          const other = seen.get(table);
          if (other !== undefined) {
            ctx.addIssue({ code: "custom", message: `${table} is in modules ${other} and ${group.name}` });
          }
          seen.set(table, group.name);
        }
      }
    });
  const parsed = schema.safeParse(groups);
  if (!parsed.success) {
    throw fail(
      "internal",
      `server misconfigured: MODULES ${parsed.error.issues[0]?.message ?? "is invalid"}`,
      {
        variable: "MODULES",
      },
    );
  }
  const grouped = new Set(parsed.data.flatMap((g) => g.tables));
  return [
    ...parsed.data.map((g) => ({
      name: g.name,
      tables: tenantTables.filter((t) => g.tables.includes(t)),
    })),
    ...tenantTables.filter((t) => !grouped.has(t)).map((t) => ({ name: t, tables: [t] })),
  ];
}

/** The module named `name`; 404 naming it otherwise. */
export function findModule(modules: Module[], name: string): Module {
  const found = modules.find((m) => m.name === name);
  if (!found) throw fail("not_found", `module: there is no module ${name}`, { field: "module" });
  return found;
}

/**
 * The one table of a module a CSV holds: `table` when given (it must belong to the module), else the
 * module's only table. A module of several tables is exported and imported one table at a time.
 */
export function moduleTable(module: Module, table: string | undefined): string {
  if (table !== undefined) {
    if (!module.tables.includes(table)) {
      throw fail("bad_request", `table: ${table} is not a table of module ${module.name}`, {
        field: "table",
      });
    }
    return table;
  }
  if (module.tables.length === 1) return module.tables[0] as string;
  throw fail(
    "bad_request",
    `table: module ${module.name} holds ${module.tables.join(", ")}; name one with table=`,
    { field: "table" },
  );
}
