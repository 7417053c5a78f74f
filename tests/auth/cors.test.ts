/**
 * CORS for the app's admin page: preflights answered for listed origins only, the origin echoed (never
 * '*'), and CORS headers on errors too so the page can read a 401 or a 429.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handleBackupTenantData } from "../../functions/backup-tenant-data.ts";
import { handleDailyTenantBackup } from "../../functions/daily-tenant-backup.ts";
import { handleListBackups } from "../../functions/list-backups.ts";
import { ConfigError, loadConfig } from "../../lib/config.ts";
import { installSmallApp, ORG_A } from "../operations/small-app.ts";
import { send } from "../support/call.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { createTestServices, TEST_CRON_SECRET, type TestServices } from "../support/services.ts";

const APP = "https://app.example.com";
const ADMIN = "http://localhost:5173";
let db: TestDatabase;
let services: TestServices;

beforeAll(async () => {
  db = await createTestDatabase("migrated");
  await installSmallApp(db.owner);
  services = await createTestServices(db.url, { ALLOWED_ORIGINS: ` ${APP}, ${ADMIN} ,` });
});

afterAll(async () => {
  await services?.cleanup();
  await db?.drop();
});

const preflight = (origin: string) =>
  send(handleListBackups, services, "list-backups", {
    method: "OPTIONS",
    headers: {
      origin,
      "access-control-request-method": "GET",
      "access-control-request-headers": "authorization",
    },
  });

describe("CORS", () => {
  it("answers the preflight of a listed origin with that origin, the methods and the headers", async () => {
    for (const origin of [APP, ADMIN]) {
      const response = await preflight(origin);
      expect(response.status).toBe(204);
      expect(response.headers.get("access-control-allow-origin")).toBe(origin);
      expect(response.headers.get("access-control-allow-methods")).toContain("GET");
      expect(response.headers.get("access-control-allow-headers")).toContain("authorization");
      expect(response.headers.get("vary")).toBe("Origin");
    }
  });

  it("gives an unlisted origin no CORS headers, so the browser blocks it", async () => {
    const response = await preflight("https://evil.example.com");
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
    const get = await send(handleListBackups, services, "list-backups", {
      token: TEST_CRON_SECRET,
      query: { organization_id: ORG_A },
      headers: { origin: "https://evil.example.com" },
    });
    expect(get.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("adds the CORS headers to answers and to errors, and exposes Retry-After", async () => {
    const ok = await send(handleListBackups, services, "list-backups", {
      token: TEST_CRON_SECRET,
      query: { organization_id: ORG_A },
      headers: { origin: APP },
    });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("access-control-allow-origin")).toBe(APP);
    // The page sends a bearer token, never cookies: credentialed CORS is not offered.
    expect(ok.headers.get("access-control-allow-credentials")).toBeNull();
    const refused = await send(handleBackupTenantData, services, "backup-tenant-data", {
      method: "POST",
      body: { organization_id: ORG_A },
      headers: { origin: APP },
    });
    expect(refused.status).toBe(401);
    expect(refused.json().error.code).toBe("unauthorized");
    expect(refused.headers.get("access-control-allow-origin")).toBe(APP);
    expect(refused.headers.get("access-control-expose-headers")).toContain("retry-after");
    // Refusals before the caller is known carry them too (405), and so does a cron-only endpoint.
    const wrongMethod = await send(handleBackupTenantData, services, "backup-tenant-data", {
      method: "GET",
      headers: { origin: APP },
    });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get("allow")).toBe("POST");
    expect(wrongMethod.headers.get("access-control-allow-origin")).toBe(APP);
    const daily = await send(handleDailyTenantBackup, services, "daily-tenant-backup", {
      method: "OPTIONS",
      headers: { origin: APP, "access-control-request-method": "POST" },
    });
    expect(daily.status).toBe(204);
    expect(daily.headers.get("access-control-allow-methods")).toBe("POST, OPTIONS");
  });

  it("answers OPTIONS without CORS when no origin is configured", async () => {
    const plain = await createTestServices(db.url);
    try {
      const response = await send(handleListBackups, plain, "list-backups", {
        method: "OPTIONS",
        headers: { origin: APP },
      });
      expect(response.status).toBe(204);
      expect(response.headers.get("allow")).toBe("GET, OPTIONS");
      expect(response.headers.get("access-control-allow-origin")).toBeNull();
    } finally {
      await plain.cleanup();
    }
  });

  it.each([["*"], ["https://app.example.com/admin"], ["app.example.com"], ["https://a.com,*"]])(
    "refuses ALLOWED_ORIGINS=%s, naming the variable",
    (value) => {
      const error = (() => {
        try {
          loadConfig({ DATABASE_URL: "postgres://x", ALLOWED_ORIGINS: value });
        } catch (err) {
          return err;
        }
      })();
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).variable).toBe("ALLOWED_ORIGINS");
    },
  );
});
