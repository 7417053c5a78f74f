/**
 * User tokens in detail: how they are verified (JWKS fetched once and cached, legacy HS256 only when its
 * secret is configured, an unreachable key set is 503 not 401), and how the role is read (from the
 * app's table on every call, configurable, several organizations per user).
 */
import { HttpResponse, http } from "msw";
import { setupServer } from "msw/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handleListBackups } from "../../functions/list-backups.ts";
import { verifyAccessToken } from "../../lib/auth/jwt.ts";
import { installSmallApp, ORG_A, ORG_B, USERS } from "../operations/small-app.ts";
import { call } from "../support/call.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { createTestServices, type TestServices } from "../support/services.ts";
import { AUTH_ENV, createAuthority, ISSUER, LEGACY_SECRET, SUPABASE_URL } from "./tokens.ts";

const server = setupServer();
let authority: Awaited<ReturnType<typeof createAuthority>>;
let db: TestDatabase;
const opened: TestServices[] = [];

async function servicesWith(env: Record<string, string> = {}) {
  const services = await createTestServices(db.url, { ...AUTH_ENV, ...env });
  opened.push(services);
  return services;
}

const list = (services: TestServices, token: string, organizationId = ORG_A) =>
  call(handleListBackups, services, "list-backups", {
    method: "GET",
    token,
    query: { organization_id: organizationId },
  });

beforeAll(async () => {
  authority = await createAuthority();
  server.listen({ onUnhandledRequest: "error" });
  server.resetHandlers(authority.handler());
  db = await createTestDatabase("migrated");
  await installSmallApp(db.owner);
});

afterAll(async () => {
  server.close();
  for (const s of opened) await s.cleanup();
  await db?.drop();
});

describe("token verification", () => {
  const settings = { supabaseUrl: SUPABASE_URL, jwtSecret: LEGACY_SECRET };

  it("fetches the project's keys once and verifies later tokens from the cache", async () => {
    const before = authority.jwksRequests();
    for (let i = 0; i < 3; i++) {
      const user = await verifyAccessToken(await authority.sign(USERS.adminA.id), settings, new Date());
      expect(user.userId).toBe(USERS.adminA.id);
    }
    expect(authority.jwksRequests() - before).toBeLessThanOrEqual(1);
  });

  it.each([
    ["expired", { expiresIn: -3600 }, /expired/],
    ["signed by a key the project never published", { key: "forged" as const }, /signature/],
    ["for another audience", { audience: "service_role" }, /aud/],
    ["from another issuer", { issuer: "https://evil.example.com/auth/v1" }, /iss/],
    ["HS256 with the wrong secret", { key: "wrong-secret" as const }, /signature/],
  ])("refuses a token %s with 401 and says why", async (_name, options, reason) => {
    const token = await authority.sign(USERS.adminA.id, options);
    const error = await verifyAccessToken(token, settings, new Date()).catch((err) => err);
    expect(error.status).toBe(401);
    expect(error.message).toMatch(reason);
  });

  it("refuses a token without a subject", async () => {
    const error = await verifyAccessToken(await authority.sign(undefined), settings, new Date()).catch(
      (e) => e,
    );
    expect(error.status).toBe(401);
  });

  it("accepts legacy HS256 tokens only when SUPABASE_JWT_SECRET is configured", async () => {
    const token = await authority.sign(USERS.adminA.id, { key: "legacy" });
    expect((await verifyAccessToken(token, settings, new Date())).userId).toBe(USERS.adminA.id);
    const error = await verifyAccessToken(token, { ...settings, jwtSecret: undefined }, new Date()).catch(
      (e) => e,
    );
    expect(error.status).toBe(401);
    expect(error.message).toContain("SUPABASE_JWT_SECRET");
  });

  it("accepts no user token at all when SUPABASE_URL is not configured", async () => {
    const services = await servicesWith({
      SUPABASE_URL: "",
      SUPABASE_JWT_SECRET: "",
      BACKUP_STORAGE: "local",
    });
    const response = await list(services, await authority.sign(USERS.superAdmin.id));
    expect(response.status).toBe(401);
  });

  it("answers 503, not 401, when the project's keys cannot be fetched", async () => {
    const downUrl = "https://keys-down.supabase.co";
    server.use(
      http.get(`${downUrl}/auth/v1/.well-known/jwks.json`, () => new HttpResponse(null, { status: 502 })),
    );
    const services = await servicesWith({ SUPABASE_URL: downUrl });
    const token = await authority.sign(USERS.superAdmin.id, { issuer: `${downUrl}/auth/v1` });
    const response = await list(services, token);
    expect(response.status).toBe(503);
    expect(response.body.error.code).toBe("unavailable");
  });

  it("checks the issuer against SUPABASE_URL even with a trailing slash", async () => {
    const services = await servicesWith({ SUPABASE_URL: `${SUPABASE_URL}/` });
    const response = await list(services, await authority.sign(USERS.adminA.id, { issuer: ISSUER }));
    expect(response.status).toBe(200);
  });
});

describe("roles from the app's database", () => {
  it("reads the role on every call: a demoted admin loses access with the same token", async () => {
    const services = await servicesWith();
    const token = await authority.sign(USERS.adminA.id);
    expect((await list(services, token)).status).toBe(200);
    await db.client.query("update profiles set role = 'member' where id = $1", [USERS.adminA.id]);
    try {
      expect((await list(services, token)).status).toBe(403);
    } finally {
      await db.client.query("update profiles set role = 'admin' where id = $1", [USERS.adminA.id]);
    }
  });

  it("reads another table and columns when configured, with several organizations per user", async () => {
    // The app's own table: created by its owner, as the app's migrations do.
    await db.owner.query(`
      create table memberships (
        user_id text not null, org text not null references organizations (id), kind text not null,
        primary key (user_id, org));
      insert into memberships values ('user-7', '${ORG_A}', 'manager'), ('user-7', '${ORG_B}', 'manager'),
        ('user-8', '${ORG_A}', 'viewer'), ('user-9', '${ORG_A}', 'root');
    `);
    const services = await servicesWith({
      ADMIN_PROFILE_TABLE: "memberships",
      ADMIN_USER_ID_COLUMN: "user_id",
      ADMIN_ROLE_COLUMN: "kind",
      ADMIN_ORGANIZATION_COLUMN: "org",
      ADMIN_ROLES: "manager",
      SUPER_ADMIN_ROLES: "root",
    });
    const manager = await authority.sign("user-7");
    expect((await list(services, manager, ORG_A)).status).toBe(200);
    expect((await list(services, manager, ORG_B)).status).toBe(200);
    const viewer = await authority.sign("user-8");
    expect((await list(services, viewer, ORG_A)).status).toBe(403);
    const root = await authority.sign("user-9");
    expect((await list(services, root, ORG_B)).status).toBe(200);
  });

  it("treats a misconfigured profile table as a server error, logged with its name", async () => {
    const services = await servicesWith({ ADMIN_PROFILE_TABLE: "no_such_table" });
    const response = await list(services, await authority.sign(USERS.adminA.id));
    expect(response.status).toBe(500);
    expect(services.logLines.join("\n")).toContain("no_such_table");
  });
});
