import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { localFileStores } from "../../lib/files/local.ts";
import type { FileBucketStore } from "../../lib/files/port.ts";
import { DEMO_ORGANIZATIONS } from "../../scripts/demo/install.ts";
import type { LocalSite } from "../../scripts/local-site.ts";
import type { TestDatabase } from "../support/database.ts";
import { openPage, type PageSite, shown, startPageSite } from "../support/page-site.ts";
import { snapshot } from "../support/snapshot.ts";

const [, bluewater, cedar] = DEMO_ORGANIZATIONS as [
  (typeof DEMO_ORGANIZATIONS)[number],
  (typeof DEMO_ORGANIZATIONS)[number],
  (typeof DEMO_ORGANIZATIONS)[number],
];
const PDF = { contentType: "application/pdf", cacheControl: "max-age=60" };
const pdf = (seed: number) => Uint8Array.from({ length: 2048 }, (_, i) => (seed + i * 13) % 256);

let db: TestDatabase;
let site: LocalSite;
let browser: Browser;
let invoices: FileBucketStore;
let stand: PageSite;

beforeAll(async () => {
  stand = await startPageSite("files-page", {
    env: (dir) => ({
      TENANT_FILE_BUCKETS: "invoices:{organization_id}/",
      TENANT_FILES_DIR: join(dir, "files"),
      RESTORE_MIN_INTERVAL_SECONDS: "0",
      DRY_RUN_MIN_INTERVAL_SECONDS: "0",
    }),
  });
  ({ db, site, browser } = stand);
  invoices = localFileStores(join(stand.dir, "files")).bucket("invoices");
});

afterAll(() => stand?.close());

async function folder(tenantId: string) {
  const files = await invoices.list(`${tenantId}/`);
  return Promise.all(
    files.map(async (f) => [
      f.path,
      f.contentType,
      f.cacheControl,
      Buffer.from(await invoices.get(f.path)).toString("hex"),
    ]),
  );
}

it("an admin restores only the files: the dry run lists them, CONFIRM puts them back", async () => {
  await invoices.put(`${bluewater.id}/2026/inv-1.pdf`, pdf(1), PDF);
  await invoices.put(`${bluewater.id}/2026/inv-2.pdf`, pdf(2), PDF);
  await invoices.put(`${cedar.id}/inv-c.pdf`, pdf(3), PDF);
  const page = await openPage(browser, site.url, { as: new RegExp(`Admin of ${bluewater.name}`) });
  await page.getByRole("button", { name: "Create backup now" }).click();
  await shown(page.getByRole("status").filter({ hasText: "Backup created" }), 30_000);
  const backedUp = await folder(bluewater.id);
  const otherTenant = await folder(cedar.id);

  await invoices.remove([`${bluewater.id}/2026/inv-1.pdf`]);
  await invoices.put(`${bluewater.id}/stray.pdf`, pdf(4), PDF);
  const before = await folder(bluewater.id);
  const rows = await snapshot(db.client, ["customers", "notifications"]);

  await page
    .locator("table.backups tbody tr[data-backup-id]")
    .first()
    .getByRole("button", { name: /^Restore/ })
    .click();
  const files = page.getByLabel(/^Files/);
  await shown(files);
  await files.selectOption({ label: "Restore only the files (leave the rows as they are)" });
  expect(await page.getByRole("group", { name: /Tables to restore/ }).count()).toBe(0);
  await page.getByRole("button", { name: "Dry run", exact: true }).click();
  const preview = page.locator(".preview .files-preview");
  await shown(preview, 30_000);
  const change = (path: string) =>
    preview.locator("tbody tr", { has: page.locator(`td[data-label="File"]`, { hasText: path }) });
  expect(await change(`${bluewater.id}/2026/inv-1.pdf`).locator(`td[data-label="Change"]`).innerText()).toBe(
    "Add",
  );
  expect(await change(`${bluewater.id}/stray.pdf`).locator(`td[data-label="Change"]`).innerText()).toBe(
    "Remove",
  );
  expect(await preview.locator("tbody tr").count()).toBe(2);
  expect(await folder(bluewater.id)).toEqual(before);

  await page.getByLabel(/Type CONFIRM/).fill("CONFIRM");
  await page.getByRole("button", { name: "Restore now" }).click();
  await shown(page.getByRole("heading", { name: "Restore completed" }), 60_000);
  await shown(
    page.locator(".result").getByText(/Files restored: 1 added, 0 replaced, 1 removed, 1 unchanged/),
  );
  expect(await folder(bluewater.id)).toEqual(backedUp);
  expect(await folder(cedar.id)).toEqual(otherTenant);
  expect(await snapshot(db.client, ["customers", "notifications"])).toEqual(rows);
  await page.close();
});
