/**
 * The browser client against the real functions: its fetch is routed to the netlify/functions entries
 * (no network), which work on a real PostgreSQL. What the page shows rests on these answers: progress
 * through 202s, the report shapes, and errors with the status, code, details and Retry-After it reads.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setServices } from "../../functions/runtime.ts";
import { ApiError, createTenantBackupClient, type TenantBackupClient } from "../../web/client/index.ts";
import { AUTH_ENV, createAuthority } from "../auth/tokens.ts";
import { installSmallApp, ORG_A, ORG_B, USERS } from "../operations/small-app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { createTestServices, type TestServices } from "../support/services.ts";

let db: TestDatabase;
let services: TestServices;
/** The same deployment with a time budget so short that a backup of three tables takes several calls. */
let shortBudget: TestServices;
let authority: Awaited<ReturnType<typeof createAuthority>>;
/** Every URL the client asked for, to check what it sends. */
const requested: { url: string; authorization: string | null; method: string }[] = [];

/** fetch as the browser would do it, answered by the function Netlify would run for that path. */
const routedFetch: typeof fetch = async (input, init) => {
  const request = new Request(input, init);
  requested.push({
    url: request.url,
    authorization: request.headers.get("authorization"),
    method: request.method,
  });
  const name = new URL(request.url).pathname.split("/").pop();
  const entry = (await import(`../../netlify/functions/${name}.ts`)) as {
    default: (r: Request) => Promise<Response>;
  };
  return entry.default(request);
};

function clientFor(token: string | null): TenantBackupClient {
  return createTenantBackupClient({
    apiBaseUrl: "https://site.example/.netlify/functions/",
    getAccessToken: () => token,
    fetch: routedFetch,
    sleep: async () => {},
  });
}

/** The ApiError a call must fail with. */
async function refusal(pending: Promise<unknown>): Promise<ApiError> {
  const outcome = await pending.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(outcome instanceof ApiError)) throw new Error(`expected an ApiError, got ${String(outcome)}`);
  return outcome;
}

const tokenOf = (user: keyof typeof USERS) => authority.sign(USERS[user].id, { key: "legacy" });

beforeAll(async () => {
  authority = await createAuthority();
  db = await createTestDatabase("migrated");
  await installSmallApp(db.owner);
  const env = { ...AUTH_ENV, LOG_LEVEL: "silent", SUPABASE_ANON_KEY: "anon-key-for-tests" };
  services = await createTestServices(db.url, env);
  shortBudget = await createTestServices(db.url, { ...env, BACKUP_TIME_BUDGET_MS: "1" });
  shortBudget.config.storage = services.config.storage;
  shortBudget.storage = services.storage;
  setServices(services);
});

afterAll(async () => {
  setServices(undefined);
  await services?.cleanup();
  await shortBudget?.cleanup();
  await db?.drop();
});

describe("the browser client", () => {
  it("reads page-config without credentials: the project URL and the anon key only", async () => {
    const before = requested.length;
    const config = await clientFor(null).pageConfig();
    expect(config).toEqual({
      success: true,
      supabase_url: AUTH_ENV.SUPABASE_URL,
      supabase_anon_key: "anon-key-for-tests",
    });
    expect(requested[before]?.authorization).toBeNull();
  });

  it("follows a backup's 202 answers until it is complete, reporting each step", async () => {
    const client = clientFor(await tokenOf("adminA"));
    const steps: string[] = [];
    setServices(shortBudget);
    const answer = await client
      .createBackup(ORG_A, { onProgress: (message) => steps.push(message) })
      .finally(() => setServices(services));
    expect(answer.backup.complete).toBe(true);
    expect(steps.length).toBeGreaterThan(0);
    expect(steps[0]).toMatch(/under way/);
    const list = await client.listBackups({ organization_id: ORG_A });
    expect(list.backups.map((b) => b.backup_id)).toContain(answer.backup.backup_id);
    expect(list.history[0]?.backup_type).toBe("manual_tenant");
    expect(requested.at(-1)?.url).toBe(
      `https://site.example/.netlify/functions/list-backups?organization_id=${ORG_A}`,
    );
  });

  it("turns a second backup too soon into a 429 ApiError with the seconds to wait", async () => {
    const client = clientFor(await tokenOf("adminA"));
    const error = await refusal(client.createBackup(ORG_A));
    expect(error.status).toBe(429);
    expect(error.retryAfter).toBeGreaterThan(200);
    expect(error.retryAfter).toBeLessThanOrEqual(300);
  });

  it("says 401, 403 and 404 with the API's code and details", async () => {
    const expired = clientFor(await authority.sign(USERS.adminA.id, { key: "legacy", expiresIn: -600 }));
    const e401 = await refusal(expired.listBackups({ organization_id: ORG_A }));
    expect([e401.status, e401.code]).toEqual([401, "unauthorized"]);

    const admin = clientFor(await tokenOf("adminA"));
    const e403 = await refusal(admin.listBackups({ organization_id: ORG_B }));
    expect([e403.status, e403.code, e403.details.field]).toEqual([403, "forbidden", "organization_id"]);

    const e404 = await refusal(admin.backupDetails(ORG_A, "20200101T000000000Z-abcd"));
    expect([e404.status, e404.code]).toEqual([404, "not_found"]);
  });

  it("refuses to call without a token, before any request", async () => {
    const before = requested.length;
    const error = await refusal(clientFor(null).listBackups({ organization_id: ORG_A }));
    expect(error.status).toBe(401);
    expect(requested.length).toBe(before);
  });

  it("rehearses and then restores, answering the preview per table and the undo point", async () => {
    const client = clientFor(await tokenOf("adminA"));
    const [backup] = (await client.listBackups({ organization_id: ORG_A })).backups;
    if (backup?.status !== "completed") throw new Error("no backup to restore");
    await db.client.query("update notes set body = 'changed' where organization_id = $1 and id % 4 = 0", [
      ORG_A,
    ]);

    const request = { organization_id: ORG_A, backup_date: backup.backup_date, backup_id: backup.backup_id };
    const dry = await client.restore({ ...request, dry_run: true });
    expect(dry.summary.dry_run).toBe(true);
    expect(dry.tables.notes).toMatchObject({ rows_now: 20, record_count: 20, would_change: 5 });
    expect(["replica", "triggers"]).toContain(dry.summary.mode);

    const real = await client.restore({ ...request, dry_run: false });
    expect(real.success).toBe(true);
    expect(real.summary.undo_backup_id).toMatch(/^\d{8}T/);
    const { rows } = await db.client.query(
      "select count(*)::int as n from notes where organization_id = $1 and body = 'changed'",
      [ORG_A],
    );
    expect(rows[0].n).toBe(0);
  });

  it("reads a super admin's health of every organization, and a 503 report of one as a report", async () => {
    const report = await clientFor(await tokenOf("superAdmin")).health();
    expect(report.tenants.map((t) => t.organization_id).sort()).toEqual(["org-a", "org-b", "org-c"]);
    const stale = await clientFor(await tokenOf("ownerB")).health(ORG_B);
    expect(stale.healthy).toBe(false);
    expect(stale.tenants[0]?.status).toBe("missing");
    const e403 = await refusal(clientFor(await tokenOf("adminA")).health());
    expect(e403.status).toBe(403);
  });

  it("downloads a summary from local storage as a file with its checksum", async () => {
    const client = clientFor(await tokenOf("adminA"));
    const [backup] = (await client.listBackups({ organization_id: ORG_A, type: "manual" })).backups;
    const download = await client.download(ORG_A, backup?.backup_id as string);
    if (download.kind !== "file") throw new Error("expected the file itself from local storage");
    expect(download.filename).toContain(backup?.backup_id);
    expect(JSON.parse(await download.blob.text()).backup_id).toBe(backup?.backup_id);
  });

  it("deletes the only backup only with force, as the API asks", async () => {
    const client = clientFor(await tokenOf("ownerB"));
    await client.createBackup(ORG_B);
    const [only] = (await client.listBackups({ organization_id: ORG_B })).backups;
    const refused = await refusal(client.deleteBackup(ORG_B, only?.backup_id as string));
    expect([refused.status, refused.details.field]).toEqual([409, "force"]);
    const deleted = await client.deleteBackup(ORG_B, only?.backup_id as string, true);
    expect(deleted.deleted.backup_id).toBe(only?.backup_id);
  });
});
