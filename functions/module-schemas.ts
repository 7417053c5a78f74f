/** Input shapes the module endpoints share, and how they find the module and table a call names. */
import { z } from "zod";
import type { Principal } from "../lib/auth/principal.ts";
import { fail } from "../lib/errors.ts";
import { findModule, type Module, modulesOf, moduleTable } from "../lib/modules/modules.ts";
import type { Services } from "../lib/services.ts";

const name = (what: string) =>
  z
    .string({ error: "is required and must be a string" })
    .trim()
    .min(1, "is required")
    .max(63, "is longer than 63 characters")
    .regex(/^[A-Za-z_][A-Za-z0-9_-]*$/, `must be a ${what} name (letters, digits, '_', '-')`);

export const moduleName = name("module");
export const tableName = name("table");
export const trueOrFalse = z
  .enum(["true", "false"], { error: "must be true or false" })
  .transform((v) => v === "true");

/** The modules of the live catalog (MODULES' groups, then each other tenant table). */
export async function listModules(services: Services): Promise<{ modules: Module[]; planId: string }> {
  const catalog = await services.db.catalog();
  return { modules: modulesOf(catalog, services.config.modules.groups), planId: catalog.plan_id };
}

/** The module and the one table of it that a call names (404 no such module, 400 table ambiguous or foreign). */
export async function moduleAndTable(
  services: Services,
  module: string,
  table: string | undefined,
): Promise<{ module: Module; table: string }> {
  const found = findModule((await listModules(services)).modules, module);
  return { module: found, table: moduleTable(found, table) };
}

/** 404 when the organization does not exist. */
export async function requireTenant(
  services: Services,
  organizationId: string,
): Promise<{ name: string | null }> {
  const tenant = await services.db.getTenant(organizationId);
  if (!tenant)
    throw fail("not_found", `organization ${organizationId} not found`, { field: "organization_id" });
  return tenant;
}

/** Who asked, as backup_logs records it: "cron", or the user's e-mail or id. */
export function requestedBy(principal: Principal): string {
  return principal.kind === "cron" ? "cron" : (principal.email ?? principal.userId);
}
