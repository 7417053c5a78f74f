/**
 * Who may call what. Every operations endpoint against every kind of caller: the cron secret, a super
 * admin, an admin of the organization and of another one, a member, a signed-in user without a profile,
 * nobody, and tokens that must not verify (expired, forged, wrong audience or issuer, wrong HS256 secret,
 * alg none). Refused calls change nothing.
 */
import { setupServer } from "msw/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handleApplyRetention } from "../../functions/apply-retention.ts";
import { handleBackupDetails } from "../../functions/backup-details.ts";
import { handleBackupHealth } from "../../functions/backup-health.ts";
import { handleBackupSchedule } from "../../functions/backup-schedule.ts";
import { handleBackupTenantData } from "../../functions/backup-tenant-data.ts";
import { handleBackupUsage } from "../../functions/backup-usage.ts";
import { handleDailyTenantBackup } from "../../functions/daily-tenant-backup.ts";
import { handleDeleteBackup } from "../../functions/delete-backup.ts";
import { handleDownloadBackup } from "../../functions/download-backup.ts";
import type { Endpoint as Declared } from "../../functions/endpoint.ts";
import { handleExportModule } from "../../functions/export-module.ts";
import { handleListBackups } from "../../functions/list-backups.ts";
import { handleListModules } from "../../functions/list-modules.ts";
import { handleModuleTemplate } from "../../functions/module-template.ts";
import { handleOffsiteCopy } from "../../functions/offsite-copy.ts";
import { handleRestoreTenantData } from "../../functions/restore-tenant-data.ts";
import { handleVerifyBackups } from "../../functions/verify-backups.ts";
import { runManualBackup } from "../../lib/backup/manual.ts";
import { installSmallApp, ORG_A, USERS } from "../operations/small-app.ts";
import { send } from "../support/call.ts";
import { deadlineIn } from "../support/clock.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { createTestServices, TEST_CRON_SECRET, type TestServices } from "../support/services.ts";
import { AUTH_ENV, createAuthority, ISSUER } from "./tokens.ts";

const server = setupServer();
let db: TestDatabase;
let services: TestServices;
let backupId: string;
const tokens = new Map<string, string | undefined>();

type Access = "all" | "org" | "valid-user" | "invalid";
/** Caller → what it is: reaches every org, reaches ORG_A only, a verified user reaching nothing, or not verified. */
const CALLERS: Record<string, Access> = {
  "the cron secret": "all",
  "a super admin": "all",
  "an admin of the organization": "org",
  "an owner of the organization signed with the legacy HS256 secret": "org",
  "an admin of another organization": "valid-user",
  "a member of the organization": "valid-user",
  "a signed-in user without a profile": "valid-user",
  "no credentials": "invalid",
  "an expired token": "invalid",
  "a token signed by a wrong key": "invalid",
  "a token for a wrong audience": "invalid",
  "a token from another issuer": "invalid",
  "an HS256 token with a wrong secret": "invalid",
  "an unsigned token (alg none)": "invalid",
  "a user token in the query string": "invalid",
};

beforeAll(async () => {
  const authority = await createAuthority();
  server.listen({ onUnhandledRequest: "error" });
  server.resetHandlers(authority.handler());
  db = await createTestDatabase("migrated");
  await installSmallApp(db.owner);
  services = await createTestServices(db.url, {
    ...AUTH_ENV,
    MANUAL_BACKUP_MIN_INTERVAL_SECONDS: "0",
    DRY_RUN_MIN_INTERVAL_SECONDS: "0",
  });
  const result = await runManualBackup(services, ORG_A, { deadline: deadlineIn(services) });
  backupId = result.backupId;

  const unsigned = `${Buffer.from(JSON.stringify({ alg: "none" })).toString("base64url")}.${Buffer.from(
    JSON.stringify({ sub: USERS.superAdmin.id, aud: "authenticated", iss: ISSUER, exp: 9_999_999_999 }),
  ).toString("base64url")}.`;
  const entries: [string, string | undefined][] = [
    ["the cron secret", TEST_CRON_SECRET],
    ["a super admin", await authority.sign(USERS.superAdmin.id)],
    ["an admin of the organization", await authority.sign(USERS.adminA.id)],
    [
      "an owner of the organization signed with the legacy HS256 secret",
      await authority.sign(USERS.adminA.id, { key: "legacy" }),
    ],
    ["an admin of another organization", await authority.sign(USERS.ownerB.id)],
    ["a member of the organization", await authority.sign(USERS.memberA.id)],
    ["a signed-in user without a profile", await authority.sign(USERS.stranger.id)],
    ["no credentials", undefined],
    ["an expired token", await authority.sign(USERS.superAdmin.id, { expiresIn: -60 })],
    ["a token signed by a wrong key", await authority.sign(USERS.superAdmin.id, { key: "forged" })],
    ["a token for a wrong audience", await authority.sign(USERS.superAdmin.id, { audience: "anon" })],
    [
      "a token from another issuer",
      await authority.sign(USERS.superAdmin.id, { issuer: "https://other.supabase.co/auth/v1" }),
    ],
    [
      "an HS256 token with a wrong secret",
      await authority.sign(USERS.superAdmin.id, { key: "wrong-secret" }),
    ],
    ["an unsigned token (alg none)", unsigned],
    ["a user token in the query string", await authority.sign(USERS.superAdmin.id)],
  ];
  for (const [name, token] of entries) tokens.set(name, token);
});

afterAll(async () => {
  server.close();
  await services?.cleanup();
  await db?.drop();
});

function credentials(caller: string) {
  const token = tokens.get(caller);
  if (token === undefined) return {};
  return caller === "a user token in the query string" ? { query: { secret: token } } : { token };
}

interface Endpoint {
  name: string;
  handler: Declared;
  method: "GET" | "POST" | "PUT";
  /** Acts on ORG_A (org admins may call) or on every tenant (cron and super admins only). */
  scope: "org" | "all" | "cron";
  input: () => Record<string, unknown>;
  /** The status of an allowed call. */
  ok: number;
}

const ENDPOINTS: Endpoint[] = [
  {
    name: "list-backups",
    handler: handleListBackups,
    method: "GET",
    scope: "org",
    input: () => ({ organization_id: ORG_A }),
    ok: 200,
  },
  {
    name: "backup-details",
    handler: handleBackupDetails,
    method: "GET",
    scope: "org",
    input: () => ({ organization_id: ORG_A, backup_id: backupId }),
    ok: 200,
  },
  {
    name: "download-backup",
    handler: handleDownloadBackup,
    method: "GET",
    scope: "org",
    input: () => ({ organization_id: ORG_A, backup_id: backupId }),
    ok: 200,
  },
  {
    name: "list-modules",
    handler: handleListModules,
    method: "GET",
    scope: "org",
    input: () => ({ organization_id: ORG_A }),
    ok: 200,
  },
  {
    name: "export-module",
    handler: handleExportModule,
    method: "GET",
    scope: "org",
    input: () => ({ organization_id: ORG_A, module: "notes" }),
    ok: 200,
  },
  {
    name: "module-template",
    handler: handleModuleTemplate,
    method: "GET",
    scope: "org",
    input: () => ({ organization_id: ORG_A, module: "notes" }),
    ok: 200,
  },
  {
    name: "backup-health",
    handler: handleBackupHealth,
    method: "GET",
    scope: "org",
    input: () => ({ organization_id: ORG_A }),
    ok: 200,
  },
  {
    name: "backup-health",
    handler: handleBackupHealth,
    method: "GET",
    scope: "all",
    input: () => ({}),
    ok: 503,
  },
  {
    name: "backup-usage",
    handler: handleBackupUsage,
    method: "GET",
    scope: "org",
    input: () => ({ organization_id: ORG_A }),
    ok: 200,
  },
  {
    name: "backup-usage",
    handler: handleBackupUsage,
    method: "GET",
    scope: "all",
    input: () => ({}),
    ok: 200,
  },
  {
    name: "backup-tenant-data",
    handler: handleBackupTenantData,
    method: "POST",
    scope: "org",
    input: () => ({ organization_id: ORG_A }),
    ok: 200,
  },
  // A dry run of the backup made above: allowed callers get the report, and nothing changes.
  {
    name: "restore-tenant-data",
    handler: handleRestoreTenantData,
    method: "POST",
    scope: "org",
    input: () => ({
      organization_id: ORG_A,
      backup_date: `${backupId.slice(0, 4)}-${backupId.slice(4, 6)}-${backupId.slice(6, 8)}`,
      backup_id: backupId,
      dry_run: true,
    }),
    ok: 200,
  },
  // An id that does not exist: an allowed caller gets 404, and nothing is ever deleted here.
  {
    name: "delete-backup",
    handler: handleDeleteBackup,
    method: "POST",
    scope: "org",
    input: () => ({ organization_id: ORG_A, backup_id: "20000101T000000000Z-0000" }),
    ok: 404,
  },
  {
    name: "apply-retention",
    handler: handleApplyRetention,
    method: "POST",
    scope: "org",
    input: () => ({ organization_id: ORG_A, dry_run: true }),
    ok: 200,
  },
  {
    name: "apply-retention",
    handler: handleApplyRetention,
    method: "POST",
    scope: "all",
    input: () => ({ dry_run: true }),
    ok: 200,
  },
  {
    name: "backup-schedule",
    handler: handleBackupSchedule,
    method: "GET",
    scope: "org",
    input: () => ({ organization_id: ORG_A }),
    ok: 200,
  },
  {
    name: "backup-schedule",
    handler: handleBackupSchedule,
    method: "PUT",
    scope: "org",
    input: () => ({ organization_id: ORG_A, frequency: "daily", time_of_day: "02:00" }),
    ok: 200,
  },
  {
    // No off-site copy is configured here: a caller let in learns that (400), the others are refused first.
    name: "offsite-copy",
    handler: handleOffsiteCopy,
    method: "POST",
    scope: "all",
    input: () => ({}),
    ok: 400,
  },
  {
    name: "daily-tenant-backup",
    handler: handleDailyTenantBackup,
    method: "POST",
    scope: "cron",
    input: () => ({}),
    ok: 200,
  },
  {
    name: "verify-backups",
    handler: handleVerifyBackups,
    method: "POST",
    scope: "cron",
    input: () => ({}),
    ok: 200,
  },
];

function expected(endpoint: Endpoint, caller: string, access: Access): number {
  if (access === "invalid") return 401;
  // daily-tenant-backup and verify-backups are the cron service's alone: a verified super admin is refused too.
  if (endpoint.scope === "cron") return caller === "the cron secret" ? endpoint.ok : 403;
  if (access === "all") return endpoint.ok;
  return access === "org" && endpoint.scope === "org" ? endpoint.ok : 403;
}

/** What a refused call must leave as it was: the log, and the schedules (with when each last changed). */
async function writes() {
  const { rows } = await db.client.query(
    `select (select count(*)::int from backup_logs) as logs,
            (select count(*)::int from tenant_backup_schedules) as schedules,
            (select max(updated_at) from tenant_backup_schedules) as schedule_changed`,
  );
  return rows[0];
}

const rows = ENDPOINTS.flatMap((endpoint) =>
  Object.entries(CALLERS).map(([caller, access]) => ({ endpoint, caller, access })),
);

describe("access matrix", () => {
  it.each(rows)("$endpoint.name ($endpoint.scope) for $caller", async ({ endpoint, caller, access }) => {
    const want = expected(endpoint, caller, access);
    const input = endpoint.input();
    const auth = credentials(caller);
    const options =
      endpoint.method === "GET"
        ? {
            method: "GET",
            ...auth,
            query: {
              ...Object.fromEntries(Object.entries(input).map(([k, v]) => [k, String(v)])),
              ...auth.query,
            },
          }
        : { method: endpoint.method, ...auth, body: input };
    const before = await writes();
    const response = await send(endpoint.handler, services, endpoint.name, options);
    expect(response.status, response.text()).toBe(want);
    if (want === 401 || want === 403) {
      const body = response.json();
      expect(body.success).toBe(false);
      expect(body.error.code).toBe(want === 401 ? "unauthorized" : "forbidden");
      expect(await writes()).toEqual(before);
    }
  });

  it("never writes a token or the cron secret to the log", () => {
    const logs = services.logLines.join("\n");
    expect(logs).not.toContain(TEST_CRON_SECRET);
    for (const token of tokens.values()) if (token) expect(logs).not.toContain(token);
  });
});
