/**
 * Who is calling, once authenticated: the cron service (it holds the shared secret) or a signed-in user of
 * the app with the organizations they administer. Lives in lib/ so that the engine (rate limits, logs)
 * can tell callers apart without depending on the HTTP layer.
 */
export type Principal =
  | { kind: "cron" }
  | {
      kind: "user";
      /** The token's `sub`: the Supabase Auth user id. */
      userId: string;
      email: string | null;
      /** A SUPER_ADMIN_ROLES role: reaches every organization. */
      superAdmin: boolean;
      /** Organizations where the user holds an ADMIN_ROLES role. */
      adminOf: string[];
    };

/** True when the principal may operate on that organization's backups. */
export function canReach(principal: Principal, organizationId: string): boolean {
  if (principal.kind === "cron" || principal.superAdmin) return true;
  return principal.adminOf.includes(organizationId);
}

/** True when the principal may act on every tenant at once (all-tenant retention, health of all). */
export function reachesAll(principal: Principal): boolean {
  return principal.kind === "cron" || principal.superAdmin;
}

/**
 * Who started a backup or restore, as its manifest and backup_logs row keep it: "cron" for the cron secret,
 * else the user id and e-mail from the token. Never a secret, never the token itself.
 */
export type CreatedBy = "cron" | { user_id: string; email: string | null };

export function createdByOf(principal: Principal): CreatedBy {
  return principal.kind === "cron" ? "cron" : { user_id: principal.userId, email: principal.email };
}

/** How a principal is named in backup_logs.details and log lines: never a secret, never a token. */
export function actorOf(principal: Principal): string {
  return principal.kind === "cron" ? "cron" : `user:${principal.userId}`;
}
