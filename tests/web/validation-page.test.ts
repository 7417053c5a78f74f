/**
 * The Data checks section in a real Chromium against the local site and the demo app with its rules: an
 * admin sees per table and rule the status, the counts and the offending keys of their organization, and
 * exports the report as CSV through the typed client; a super admin adds a rule the schema proposes, which
 * an admin only reads. The site and browser from tests/support/page-site.ts; UPDATE_SCREENSHOTS=1 also writes
 * docs/screenshots/validation.png.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { DEMO_ORGANIZATIONS, installDemoValidation } from "../../scripts/demo/install.ts";
import type { LocalSite } from "../../scripts/local-site.ts";
import type { TestDatabase } from "../support/database.ts";
import { openPage, type PageSite, shown, startPageSite } from "../support/page-site.ts";

const bluewater = DEMO_ORGANIZATIONS[1] as (typeof DEMO_ORGANIZATIONS)[number];

let db: TestDatabase;
let site: LocalSite;
let browser: Browser;
let stand: PageSite;

beforeAll(async () => {
  stand = await startPageSite("validation-page", { prepare: (db) => installDemoValidation(db.owner) });
  ({ db, site, browser } = stand);
});

afterAll(() => stand?.close());

it("an admin sees the broken rules with their offending keys, and exports the report as CSV", async () => {
  const blank = await db.client.query<{ id: string }>(
    "select id::text from customers where organization_id = $1 and name !~ '\\S'",
    [bluewater.id],
  );
  expect(blank.rows).toHaveLength(1);
  const page = await openPage(browser, site.url, { as: new RegExp(`Admin of ${bluewater.name}`) });
  const section = page.locator("section.section-validation");
  await shown(section.getByTestId("validation-summary"));
  expect(await section.getByTestId("validation-summary").innerText()).toMatch(
    /^\d of 6 rules broken by \d+ rows/,
  );

  const row = section.locator("tr").filter({ hasText: "customers" }).filter({ hasText: "required" });
  expect(await row.locator('td[data-label="Status"]').innerText()).toBe("✗ broken");
  expect(await row.locator('td[data-label="Rows"]').innerText()).toBe("1");
  expect(await row.locator('td[data-label="First offending keys"]').innerText()).toBe(
    `id=${blank.rows[0]?.id}`,
  );
  if (process.env.UPDATE_SCREENSHOTS) {
    await section.screenshot({
      path: join(import.meta.dirname, "..", "..", "docs", "screenshots", "validation.png"),
      animations: "disabled",
    });
  }
  const unique = section.locator("tr").filter({ hasText: "email" }).filter({ hasText: "unique" });
  expect(await unique.locator('td[data-label="Rows"]').innerText()).toBe("2");

  const [download] = await Promise.all([
    page.waitForEvent("download"),
    section.getByRole("button", { name: "Export report (CSV)" }).click(),
  ]);
  expect(download.suggestedFilename()).toMatch(
    new RegExp(`^validation-${bluewater.id}-\\d{4}-\\d{2}-\\d{2}\\.csv$`),
  );
  const csv = await readFile((await download.path()) as string, "utf8");
  const lines = csv.split("\r\n");
  expect(lines[0]).toBe("rule_id,table,column,kind,violations,sample_keys,message");
  expect(lines).toContainEqual(
    expect.stringMatching(new RegExp(`,customers,name,required,1,id=${blank.rows[0]?.id},`)),
  );
  await page.close();
});

it("a super admin adds a proposed rule; an admin sees the proposals without the button", async () => {
  const page = await openPage(browser, site.url, { as: new RegExp(`Admin of ${bluewater.name}`) });
  const section = page.locator("section.section-validation");
  const proposals = section.locator("table.rule-proposals tbody tr");
  await shown(proposals);
  expect(await proposals.count()).toBeGreaterThan(0);
  expect(await section.getByRole("button", { name: /^Add rule / }).count()).toBe(0);
  expect(await section.getByRole("button", { name: /^Remove rule / }).count()).toBe(0);
  await page.getByRole("button", { name: "Sign out" }).click();

  await page.getByRole("button", { name: /Super admin/ }).click();
  await shown(section.getByTestId("validation-summary"));
  await shown(proposals);
  const first = proposals.first();
  const [table, column, kind] = await Promise.all(
    ["Table", "Column", "Rule"].map((label) => first.locator(`td[data-label="${label}"]`).innerText()),
  );
  const count = async () =>
    Number(
      (
        await db.client.query(
          "select count(*) from tenant_backup_validation_rules where table_name = $1 and column_name = $2 and kind = $3",
          [table, column, kind],
        )
      ).rows[0].count,
    );
  expect(await count()).toBe(0);
  await first.getByRole("button", { name: `Add rule ${kind} on ${table}.${column}` }).click();
  const added = section
    .locator("table.rule-list tbody tr")
    .filter({ hasText: table as string })
    .filter({ hasText: column as string })
    .filter({ hasText: kind as string });
  await shown(added);
  expect(await count()).toBe(1);
  await shown(added.getByRole("button", { name: `Remove rule ${kind} on ${table}.${column}` }));
  await page.close();
});
