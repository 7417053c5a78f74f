/**
 * The demo app ships validation rules and a few rows of Bluewater Welding that break them: the report
 * lists exactly those rows, and none of the other organizations'.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { validateTenant } from "../../lib/validation/check.ts";
import { DEMO_ORGANIZATIONS, installDemoValidation } from "../../scripts/demo/install.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { createTestServices, type TestServices } from "../support/services.ts";

let db: TestDatabase;
let services: TestServices;

beforeAll(async () => {
  db = await createTestDatabase("demo");
  await installDemoValidation(db.owner);
  services = await createTestServices(db.url);
  services.clock.set("2026-11-22T12:00:00Z");
});

afterAll(async () => {
  await services?.cleanup();
  await db?.drop();
});

const [acme, bluewater, cedar] = DEMO_ORGANIZATIONS.map((o) => o.id) as [string, string, string];

function counts(report: Awaited<ReturnType<typeof validateTenant>>) {
  return Object.fromEntries(report.results.map((r) => [`${r.table}.${r.column} ${r.kind}`, r.violations]));
}

it("lists Bluewater Welding's broken rows, by key", async () => {
  const report = await validateTenant(services, bluewater);
  const broken = await db.client.query<{ id: string }>(
    `select id::text from customers where organization_id = $1 and name !~ '\\S'`,
    [bluewater],
  );
  expect(counts(report)).toMatchObject({
    "customers.name required": 1,
    "customers.email format": 2,
    "customers.email unique_in_tenant": 2,
    "rentals.started_at date_order": 1,
    "rentals.daily_rate range": 1,
  });
  const required = report.results.find((r) => r.kind === "required");
  expect(required?.sample_keys).toEqual(broken.rows);
});

it("finds none of those in the other organizations", async () => {
  for (const org of [acme, cedar]) {
    expect(counts(await validateTenant(services, org))).toMatchObject({
      "customers.name required": 0,
      "customers.email format": 0,
      "customers.email unique_in_tenant": 0,
      "rentals.started_at date_order": 0,
      "rentals.daily_rate range": 0,
    });
  }
});
