/**
 * Every way to knock on daily-tenant-backup: only the configured cron secret gets in, by header or query;
 * no secret configured means no entry; the secret never reaches a log line; bad input gets a clear 4xx and
 * changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handleDailyTenantBackup } from "../../functions/daily-tenant-backup.ts";
import { serve } from "../../functions/runtime.ts";
import { call } from "../support/call.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { createTestServices, TEST_CRON_SECRET, type TestServices } from "../support/services.ts";

let db: TestDatabase;
let services: TestServices;
let unconfigured: TestServices;

beforeAll(async () => {
  db = await createTestDatabase("demo");
  services = await createTestServices(db.url);
  unconfigured = await createTestServices(db.url, { CRON_SECRET: "" });
});

afterAll(async () => {
  await services?.cleanup();
  await unconfigured?.cleanup();
  await db?.drop();
});

const JSON_TYPE = { "content-type": "application/json" };
const logCount = async () =>
  Number((await db.client.query("select count(*) from backup_logs")).rows[0].count);
const run = (options: Parameters<typeof call>[3], s: TestServices = services) =>
  call(handleDailyTenantBackup, s, "daily-tenant-backup", options);

describe("daily-tenant-backup access", () => {
  it.each([
    ["no credentials", {}],
    ["a wrong bearer secret", { token: "wrong-secret-wrong-secret" }],
    ["the secret with a different case", { token: TEST_CRON_SECRET.toUpperCase() }],
    ["a prefix of the secret", { token: TEST_CRON_SECRET.slice(0, -1) }],
    ["a wrong query secret", { query: { secret: "nope" } }],
    ["an empty query secret", { query: { secret: "" } }],
    ["a Basic header", { headers: { authorization: `Basic ${TEST_CRON_SECRET}` } }],
  ])("refuses %s with 401 and does nothing", async (_name, options) => {
    const before = await logCount();
    const response = await run(options);
    expect(response.status).toBe(401);
    expect(response.body.success).toBe(false);
    expect(response.body.error.code).toBe("unauthorized");
    expect(await logCount()).toBe(before);
  });

  it("lets nobody in when CRON_SECRET is not configured (fail closed)", async () => {
    for (const token of ["", "undefined", "null", TEST_CRON_SECRET]) {
      const response = await run({ token }, unconfigured);
      expect(response.status).toBe(401);
    }
    expect((await run({ query: { secret: "undefined" } }, unconfigured)).status).toBe(401);
  });

  it("answers 405 to GET, even with the right secret", async () => {
    const response = await run({ method: "GET", token: TEST_CRON_SECRET });
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("POST");
  });

  it("answers 400 naming the field for unknown body fields, and 400 for invalid JSON", async () => {
    const before = await logCount();
    const extra = await run({ token: TEST_CRON_SECRET, body: { organization_id: "x", pad: 1 } });
    expect(extra.status).toBe(400);
    expect(extra.body.error.details.field).toBe("organization_id");
    expect(extra.body.error.message).toBe("organization_id: is not a field of this endpoint (nor are pad)");
    const broken = await run({ token: TEST_CRON_SECRET, rawBody: "{not json", headers: JSON_TYPE });
    expect(broken.status).toBe(400);
    expect(broken.body.error.details.field).toBe("body");
    expect(await logCount()).toBe(before);
  });

  it("answers 415 to a body that is not sent as application/json, and takes an empty body as {}", async () => {
    const before = await logCount();
    // A string body without a type goes out as text/plain, as fetch() sends it.
    const types: Record<string, string>[] = [
      {},
      { "content-type": "text/plain" },
      { "content-type": "application/x-www-form-urlencoded" },
    ];
    for (const headers of types) {
      const response = await run({ token: TEST_CRON_SECRET, rawBody: "{}", headers });
      expect(response.status).toBe(415);
      expect(response.body.error.code).toBe("unsupported_media_type");
    }
    expect(await logCount()).toBe(before);
    const typed = await run({
      token: TEST_CRON_SECRET,
      rawBody: "{}",
      headers: { "content-type": "Application/JSON; charset=utf-8" },
    });
    expect(typed.status).toBe(200);
    expect((await run({ token: TEST_CRON_SECRET, rawBody: "" })).status).toBe(200);
  });

  it("answers 413 to a body over the limit", async () => {
    const response = await run({
      token: TEST_CRON_SECRET,
      rawBody: JSON.stringify({ pad: "x".repeat(100_000) }),
      headers: JSON_TYPE,
    });
    expect(response.status).toBe(413);
  });

  it("lets the secret in by header and by query, and never logs it", async () => {
    const byHeader = await run({ token: TEST_CRON_SECRET });
    expect(byHeader.status).toBe(200);
    const byQuery = await run({ query: { secret: TEST_CRON_SECRET } });
    expect(byQuery.status).toBe(200);
    // A percent-encoded parameter name is the same parameter to the server: it lets the secret in, and
    // the request log line must not carry it either.
    const encodedName = await serve(
      handleDailyTenantBackup,
      () => services,
    )(
      new Request(`http://localhost/.netlify/functions/daily-tenant-backup?%73ecret=${TEST_CRON_SECRET}`, {
        method: "POST",
      }),
    );
    expect(encodedName.status).toBe(200);
    const logs = services.logLines.join("\n");
    expect(logs).toContain("%73ecret=[REDACTED]");
    expect(logs).not.toContain(TEST_CRON_SECRET);
  });
});
