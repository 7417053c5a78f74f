/**
 * The backup details dialog in a real Chromium: a small table's chunk, shared with the tenant's other
 * small tables, downloads as that table's rows only.
 */
import { readFile } from "node:fs/promises";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Manifest } from "../../lib/backup/manifest.ts";
import { DEMO_ORGANIZATIONS } from "../../scripts/demo/install.ts";
import { openPage, type PageSite, shown, startPageSite } from "../support/page-site.ts";

const bluewater = DEMO_ORGANIZATIONS[1] as (typeof DEMO_ORGANIZATIONS)[number];
const secret = { authorization: "Bearer page-test-cron-secret-0123456789" };
let stand: PageSite;

beforeAll(async () => {
  stand = await startPageSite("details-page");
});

afterAll(() => stand?.close());

it("downloads a small table from the chunk it shares: that table's rows only", async () => {
  const { site, browser } = stand;
  const made = await fetch(new URL("/.netlify/functions/backup-tenant-data", site.url), {
    method: "POST",
    headers: { ...secret, "content-type": "application/json" },
    body: JSON.stringify({ organization_id: bluewater.id }),
  });
  expect(made.status, await made.clone().text()).toBe(200);
  const backupId = (await made.json()).backup.backup_id as string;
  const details = await fetch(
    new URL(
      `/.netlify/functions/backup-details?organization_id=${bluewater.id}&backup_id=${backupId}`,
      site.url,
    ),
    { headers: secret },
  );
  const manifest = (await details.json()).manifest as Manifest;
  // A table sharing its chunk, and not the first in it: its slice starts inside the chunk.
  const table = manifest.tables.find((t) => (t.files[0]?.slice?.first ?? 0) > 0);
  if (!table) throw new Error("no table of the demo tenant shares a chunk");
  const sharing = manifest.tables.filter((t) => t.files[0]?.path === table.files[0]?.path);
  expect(sharing.length).toBeGreaterThan(1);

  const page = await openPage(browser, site.url, { as: new RegExp(`Admin of ${bluewater.name}`) });
  await page
    .locator(`table.backups tbody tr[data-backup-id="${backupId}"]`)
    .getByRole("button", { name: "Details" })
    .click();
  const row = page
    .locator("tr")
    .filter({ has: page.locator("td.mono", { hasText: new RegExp(`^${table.name}$`) }) });
  await shown(row);
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    row.getByRole("button").first().click(),
  ]);
  expect(download.suggestedFilename()).toContain(`${table.name}.jsonl.gz`);
  const text = gunzipSync(await readFile((await download.path()) as string)).toString("utf8");
  const rows = text
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as unknown[]);
  expect(rows).toHaveLength(table.row_count);
  for (const r of rows) expect(r).toHaveLength(table.columns.length);
  await page.close();
});
