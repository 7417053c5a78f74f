/**
 * What a verified user may do, from the app's own database: their role and organization in the profile
 * table (ADMIN_PROFILE_TABLE, by default profiles.role and profiles.organization_id keyed by id = sub).
 * Read on every call, never from the token's claims: an admin demoted in the app loses access at once.
 */
import type { Services } from "../services.ts";
import type { VerifiedUser } from "./jwt.ts";
import type { Principal } from "./principal.ts";

export async function principalForUser(services: Services, user: VerifiedUser): Promise<Principal> {
  const { auth } = services.config;
  const rows = await services.db.userRoles({
    userId: user.userId,
    table: auth.profileTable,
    idColumn: auth.userIdColumn,
    roleColumn: auth.roleColumn,
    organizationColumn: auth.organizationColumn,
  });
  const superAdmin = rows.some((row) => row.role !== null && auth.superAdminRoles.includes(row.role));
  const adminOf = rows
    .filter((row) => row.role !== null && row.organization_id !== null && auth.adminRoles.includes(row.role))
    .map((row) => row.organization_id as string);
  return { kind: "user", userId: user.userId, email: user.email, superAdmin, adminOf: [...new Set(adminOf)] };
}
