/**
 * The Modules section in a real Chromium against the local site on the demo database: an admin sees the
 * module cards with their record counts, exports customers as CSV, edits one name in the file, checks it
 * (the dry run shows exactly that one change and the database is untouched), imports it, and the database
 * holds the new name. The site and browser from tests/support/page-site.ts; UPDATE_SCREENSHOTS=1 writes
 * docs/screenshots/module-import-preview.png.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { csvLine, parseCsv } from "../../lib/modules/csv.ts";
import { DEMO_ORGANIZATIONS } from "../../scripts/demo/install.ts";
import type { LocalSite } from "../../scripts/local-site.ts";
import type { TestDatabase } from "../support/database.ts";
import { openPage, type PageSite, shown, startPageSite } from "../support/page-site.ts";
import { snapshot } from "../support/snapshot.ts";

const SCREENSHOTS = process.env.UPDATE_SCREENSHOTS
  ? join(import.meta.dirname, "..", "..", "docs", "screenshots")
  : null;
const bluewater = DEMO_ORGANIZATIONS[1] as (typeof DEMO_ORGANIZATIONS)[number];

let db: TestDatabase;
let site: LocalSite;
let browser: Browser;
let dir: string;
let stand: PageSite;

beforeAll(async () => {
  stand = await startPageSite("modules-page");
  ({ db, site, browser, dir } = stand);
});

afterAll(() => stand?.close());

it("an admin exports a module, edits a row, checks the file and imports it", async () => {
  const { rows: counts } = await db.client.query(
    "select count(*)::int as n from customers where organization_id = $1",
    [bluewater.id],
  );
  const page = await openPage(browser, site.url, { as: new RegExp(`Admin of ${bluewater.name}`) });
  const section = page.locator("section.section-modules");
  const card = section.locator(".module-card").filter({ has: page.getByText("customers", { exact: true }) });
  await shown(card.getByText(`${counts[0].n} records`));

  const [download] = await Promise.all([
    page.waitForEvent("download"),
    card.getByRole("button", { name: "Export CSV" }).click(),
  ]);
  const exported = await readFile((await download.path()) as string, "utf8");
  const records = [...parseCsv(exported)].map((r) => r.fields);
  const nameAt = (records[0] as string[]).indexOf("name");
  (records[1] as (string | null)[])[nameAt] = "Renamed in a spreadsheet";
  const edited = join(dir, "customers.csv");
  await writeFile(edited, records.map((r) => csvLine(r)).join(""));
  const before = await snapshot(db.client, ["customers"]);

  await card.getByRole("button", { name: "Import…" }).click();
  await section.getByLabel("CSV file").setInputFiles(edited);
  await section.getByRole("button", { name: "Check (dry run)" }).click();
  const preview = section.locator(".preview");
  await shown(preview.locator(".fact").filter({ hasText: "Would update" }));
  const figure = (label: string) =>
    preview.locator(".fact").filter({ hasText: label }).locator(".fact-main").innerText();
  expect(await figure("Would update")).toBe("1");
  expect(await figure("Would add")).toBe("0");
  expect(await figure("Unchanged")).toBe(String(counts[0].n - 1));
  expect(await snapshot(db.client, ["customers"])).toEqual(before);
  if (SCREENSHOTS) {
    await mkdir(SCREENSHOTS, { recursive: true });
    await section.screenshot({
      path: join(SCREENSHOTS, "module-import-preview.png"),
      animations: "disabled",
    });
  }

  await section.getByRole("button", { name: "Import 1 change" }).click();
  await shown(section.getByRole("status").filter({ hasText: "Imported." }));
  const id = (records[1] as string[])[(records[0] as string[]).indexOf("id")];
  const { rows } = await db.client.query("select name from customers where id = $1", [id]);
  expect(rows).toEqual([{ name: "Renamed in a spreadsheet" }]);
  await page.close();
});
