/**
 * A small multi-tenant app for the operations tests: three organizations, a profile table holding each
 * user's role (as the app's admin page reads it), and one data table. Small, so that a test can take
 * dozens of backups in a second.
 */
import type pg from "pg";
import { runManualBackup } from "../../lib/backup/manual.ts";
import type { Services } from "../../lib/services.ts";
import { deadlineIn } from "../support/clock.ts";

export const ORG_A = "org-a";
export const ORG_B = "org-b";
export const ORG_C = "org-c";

/** App users, keyed by what they are; ids are the Supabase Auth user ids (the token's sub). */
export const USERS = {
  superAdmin: { id: "10000000-0000-4000-8000-000000000001", org: ORG_C, role: "super_admin" },
  adminA: { id: "10000000-0000-4000-8000-000000000002", org: ORG_A, role: "admin" },
  ownerB: { id: "10000000-0000-4000-8000-000000000003", org: ORG_B, role: "owner" },
  memberA: { id: "10000000-0000-4000-8000-000000000004", org: ORG_A, role: "member" },
  /** Signed in, but with no profile row at all. */
  stranger: { id: "10000000-0000-4000-8000-000000000005", org: null, role: null },
} as const;

export async function installSmallApp(client: pg.Client): Promise<void> {
  await client.query(`
    create table organizations (id text primary key, name text not null);
    create table profiles (
      id uuid primary key,
      organization_id text not null references organizations (id),
      role text not null,
      email text not null
    );
    create table notes (
      id serial primary key,
      organization_id text not null references organizations (id),
      body text not null
    );
    insert into organizations values ('${ORG_A}', 'Alpha'), ('${ORG_B}', 'Beta'), ('${ORG_C}', 'Gamma');
    insert into notes (organization_id, body)
      select o, 'note ' || g from unnest(array['${ORG_A}', '${ORG_B}', '${ORG_C}']) o, generate_series(1, 20) g;
  `);
  for (const user of Object.values(USERS)) {
    if (!user.org) continue;
    await client.query("insert into profiles values ($1, $2, $3, $4)", [
      user.id,
      user.org,
      user.role,
      `${user.role}@example.com`,
    ]);
  }
}

/** A completed manual backup of `tenantId` as of `at`; its backup id and date follow that time. */
export async function backupAt(
  services: Services,
  setClock: (at: string) => void,
  tenantId: string,
  at: string,
): Promise<{ backupId: string; date: string }> {
  setClock(at);
  const result = await runManualBackup(services, tenantId, { deadline: deadlineIn(services) });
  if (result.status !== "completed") throw new Error(`backup of ${tenantId} at ${at} did not complete`);
  return { backupId: result.backupId, date: result.date };
}
