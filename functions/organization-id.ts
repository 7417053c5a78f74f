/**
 * The organization id, the one input every tenant endpoint shares: its shape, how a schema marks a field
 * as one, and its one spelling. The database casts an id to the tenant key's type, so that for a uuid key
 * `00000000000040008000000000000001` and an upper-case UUID are the same tenant; leases, rate limits,
 * storage folders and logs are keyed by text. So every organization id field is replaced by the key's
 * canonical text before anything else sees it (endpoint.ts), and a value that is not of the key's type
 * is a 400 naming the field.
 */
import { z } from "zod";
import { TENANT_ID_PATTERN } from "../lib/backup/paths.ts";
import { fail } from "../lib/errors.ts";
import type { Services } from "../lib/services.ts";

/** A schema field of this shape (optional or not) is an organization id: endpoint.ts finds it by identity. */
export const organizationId = z
  .string({ error: "is required and must be a string" })
  .trim()
  .min(1, "is required")
  .max(128, "is longer than 128 characters")
  .regex(TENANT_ID_PATTERN, "may hold only letters, digits, '-', '_' and '.'");

/** The fields of `schema` declared with `organizationId` (also behind .optional() or .default()). */
export function organizationFields(schema: z.ZodObject): string[] {
  return Object.entries(schema.shape)
    .filter(([, field]) => unwrap(field as z.ZodType) === organizationId)
    .map(([name]) => name);
}

function unwrap(schema: z.ZodType): z.ZodType {
  let inner = schema;
  while ("innerType" in inner._zod.def) inner = inner._zod.def.innerType as z.ZodType;
  return inner;
}

/** `value` as the tenant key's canonical text; 400 naming `field` when it is not a value of the key's type. */
export async function canonicalOrganizationId(
  services: Services,
  field: string,
  value: string,
): Promise<string> {
  const key = await services.db.tenantKey(value);
  if (!key.valid) {
    throw fail("bad_request", `${field}: is not a valid ${key.type} (${key.message})`, { field });
  }
  // The canonical text becomes a storage path segment too: it must stay within the characters allowed there.
  if (!TENANT_ID_PATTERN.test(key.id)) {
    throw fail("bad_request", `${field}: ${key.id} cannot name a backup folder`, { field });
  }
  return key.id;
}
