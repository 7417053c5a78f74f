/**
 * The admin page end to end, in a real Chromium (Debian's `chromium`, driven by playwright-core) against
 * the local server as `npm start` runs it — the functions, the built page and the demo sign-in — on a
 * clone of the demo database. What a user does, checked where it lands: in the database. Then the page as
 * deployed: Supabase Auth sign-in (password, magic link) against a stand-in for Supabase's Auth and REST
 * endpoints (supabase-auth-stand-in.ts), the functions verifying its tokens as on a legacy-secret project.
 *
 * UPDATE_SCREENSHOTS=1 also writes the screenshots of docs/screenshots/ (so that CI never rewrites
 * tracked files). CHROMIUM_PATH overrides /usr/bin/chromium.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_ORGANIZATIONS } from "../../scripts/demo/install.ts";
import { freePort } from "../../scripts/embedded-postgres.ts";
import { type LocalSite, startLocalSite } from "../../scripts/local-site.ts";
import { formatBytes } from "../../web/components/format.ts";
import type { TestDatabase } from "../support/database.ts";
import { openPage, type PageSite, shown, startPageSite } from "../support/page-site.ts";
import { changedTables, snapshot } from "../support/snapshot.ts";
import { startSupabaseAuthStandIn } from "./supabase-auth-stand-in.ts";

const SCREENSHOTS = process.env.UPDATE_SCREENSHOTS
  ? join(import.meta.dirname, "..", "..", "docs", "screenshots")
  : null;
/** The tables the test changes, and two it leaves alone (whole-table snapshots: every tenant's rows). */
const WATCHED = ["customers", "notifications", "rentals", "organizations"];
const [acme, bluewater, cedar] = DEMO_ORGANIZATIONS as [
  (typeof DEMO_ORGANIZATIONS)[number],
  (typeof DEMO_ORGANIZATIONS)[number],
  (typeof DEMO_ORGANIZATIONS)[number],
];

let db: TestDatabase;
let site: LocalSite;
let browser: Browser;
let stand: PageSite;

beforeAll(async () => {
  stand = await startPageSite("page", {
    env: () => ({
      // The test restores and then undoes at once; the limit on real restores is the API's own business.
      RESTORE_MIN_INTERVAL_SECONDS: "0",
      DRY_RUN_MIN_INTERVAL_SECONDS: "0",
      // One drill call reaches every demo organization.
      VERIFY_TENANTS_PER_CALL: "10",
    }),
  });
  ({ db, site, browser } = stand);
  if (SCREENSHOTS) await mkdir(SCREENSHOTS, { recursive: true });
});

afterAll(() => stand?.close());

const open = (width = 1440): Promise<Page> => openPage(browser, site.url, { width });

/** Polls a value of the page until it matches (playwright-core has no assertions of its own). */
const eventually = <T>(read: () => Promise<T>, timeout = 15_000) =>
  expect.poll(read, { timeout, interval: 100 });

async function signInAs(page: Page, label: RegExp): Promise<void> {
  await page.getByRole("button", { name: label }).click();
  await shown(page.getByRole("button", { name: "Sign out" }));
}

async function shoot(page: Page, name: string, fullPage = true): Promise<void> {
  if (!SCREENSHOTS) return;
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage, animations: "disabled" });
}

/** Changes Bluewater's data the way a mistake would: rows edited, rows deleted, a row added. */
async function changeBluewater() {
  const q = (sql: string) => db.client.query(sql);
  await q(`update customers set name = 'Overwritten by mistake' where id in
             (select id from customers where organization_id = '${bluewater.id}' order by id limit 7)`);
  await q(`delete from notifications where id in
             (select id from notifications where organization_id = '${bluewater.id}' order by id limit 4)`);
}

const cell = (page: Page, table: string, column: string) =>
  page
    .locator(".preview tbody tr", {
      has: page.locator(`td[data-label="Table"]`, { hasText: new RegExp(`^${table}$`) }),
    })
    .locator(`td[data-label="${column}"]`);

describe("the admin page in Chromium", () => {
  it("an admin backs up, rehearses, restores with CONFIRM and undoes; the database follows", async () => {
    const page = await open();
    await shown(page.getByRole("heading", { name: "Sign in" }));
    await shoot(page, "sign-in");
    await signInAs(page, new RegExp(`Admin of ${bluewater.name}`));
    await shown(page.getByText("No backups yet."));

    // Create backup: the new backup appears in the list without a reload.
    await page.getByRole("button", { name: "Create backup now" }).click();
    await shown(page.getByRole("status").filter({ hasText: "Backup created" }), 30_000);
    const rows = page.locator("table.backups tbody tr[data-backup-id]");
    await eventually(() => rows.count()).toBe(1);
    await shown(rows.first().getByText("Manual"));
    await shown(page.locator(".badge-ok", { hasText: "Fresh" }));
    await shoot(page, "overview");

    const backedUp = await snapshot(db.client, WATCHED);
    await changeBluewater();
    const changed = await snapshot(db.client, WATCHED);
    expect(changedTables(backedUp, changed).sort()).toEqual(["customers", "notifications"]);

    // Restore: the backup, all tables, a dry run first; the real restore waits for CONFIRM.
    await rows
      .first()
      .getByRole("button", { name: /^Restore/ })
      .click();
    await eventually(() =>
      page
        .getByRole("group", { name: /Tables to restore/ })
        .first()
        .innerText(),
    ).toMatch("24 of 24");
    await eventually(() => page.getByRole("button", { name: "Restore now" }).count()).toBe(0);
    await page.getByRole("button", { name: "Dry run", exact: true }).click();
    await shown(page.getByRole("heading", { name: "Dry run: what the restore would do" }), 30_000);
    await eventually(() => cell(page, "customers", "Would change").innerText()).toBe("7");
    await eventually(() => cell(page, "notifications", "Would insert").innerText()).toBe("4");
    await eventually(() => cell(page, "bottles", "Would change").innerText()).toBe("0");
    await eventually(() => page.locator(".mode").first().innerText()).toMatch(/Mode: (replica|triggers)/);
    expect(changedTables(changed, await snapshot(db.client, WATCHED))).toEqual([]);
    await shoot(page, "dry-run-preview");

    const restoreNow = page.getByRole("button", { name: "Restore now" });
    const confirmBox = page.getByLabel(/Type CONFIRM/);
    expect(await restoreNow.isDisabled()).toBe(true);
    await confirmBox.fill("confirm");
    expect(await restoreNow.isDisabled()).toBe(true);
    await confirmBox.fill("CONFIRM");
    await restoreNow.click();
    await shown(page.getByRole("heading", { name: "Restore completed" }), 60_000);
    expect(changedTables(backedUp, await snapshot(db.client, WATCHED))).toEqual([]);
    await eventually(() => page.locator("table.backups tbody tr[data-backup-id]").count()).toBe(2);
    await shoot(page, "restore-result");

    // Undo: the undo point is restored the same way, dry run first.
    await page.getByRole("button", { name: "Undo this restore" }).click();
    await eventually(() => page.getByLabel("Backup to restore").inputValue()).toMatch(
      /^\d{8}T\d+Z-[0-9a-f]{4}$/,
    );
    await eventually(() => page.getByRole("button", { name: "Restore now" }).count()).toBe(0);
    await page.getByRole("button", { name: "Dry run", exact: true }).click();
    await eventually(() => cell(page, "customers", "Would change").innerText(), 30_000).toBe("7");
    await page.getByLabel(/Type CONFIRM/).fill("CONFIRM");
    await page.getByRole("button", { name: "Restore now" }).click();
    await shown(page.getByRole("heading", { name: "Restore completed" }), 60_000);
    expect(changedTables(changed, await snapshot(db.client, WATCHED))).toEqual([]);

    // History: newest first, the restores and dry runs included; a restore's undo point, captured inside
    // its transaction, is stored right after it.
    const history = page.locator("table.history tbody tr");
    await eventually(() => history.first().first().innerText()).toMatch("Undo point");
    await eventually(() => history.nth(1).first().innerText()).toMatch("Restore");
    await eventually(() => history.last().first().innerText()).toMatch("Manual backup");
    // A second manual backup so soon is refused by the rate limit: the page counts down from Retry-After.
    await page.getByRole("button", { name: "Create backup now" }).click();
    await eventually(() =>
      page.getByRole("alert").filter({ hasText: "Too soon" }).first().innerText(),
    ).toMatch(/try again in [45]:\d\d/);

    await page.close();
  });

  it("a plain member is refused with the organization's name", async () => {
    const page = await open();
    await signInAs(page, new RegExp(`Member \\(not admin\\) of ${acme.name}`));
    await eventually(() => page.getByRole("alert").first().innerText()).toMatch(
      `You are not an admin of ${acme.name}.`,
    );
    await eventually(() => page.getByRole("button", { name: "Create backup now" }).count()).toBe(0);
    await page.close();
  });

  it("a super admin finds and switches organizations", async () => {
    const page = await open();
    await signInAs(page, /Super admin/);
    const picker = page.getByLabel("Find an organization");
    await shown(picker);
    await picker.fill("cedar");
    await eventually(() =>
      page.getByRole("list", { name: "Organizations" }).getByRole("button").count(),
    ).toBe(1);
    await page.getByRole("button", { name: new RegExp(cedar.name) }).click();
    await eventually(() => page.locator(".tbr-org-name").innerText()).toBe(cedar.name);
    await shown(page.getByText("No backups yet."));

    await picker.fill("blue");
    await page.getByRole("button", { name: new RegExp(bluewater.name) }).click();
    await eventually(() => page.locator(".tbr-org-name").innerText()).toBe(bluewater.name);
    // The manual backup and the two undo points of the first test.
    await eventually(() => page.locator("table.backups tbody tr[data-backup-id]").count()).toBe(3);
    await page.close();
  });

  it("shows who made a backup and why, its storage use and the last drill, as the API reports them", async () => {
    let page = await open();
    await signInAs(page, /Super admin/);
    const pickCedar = async () => {
      await page.getByLabel("Find an organization").fill("cedar");
      await page.getByRole("button", { name: new RegExp(cedar.name) }).click();
      await eventually(() => page.locator(".tbr-org-name").innerText()).toBe(cedar.name);
    };
    await pickCedar();
    await page.getByLabel("Note (optional)").fill("before the yearly price change");
    await page.getByRole("button", { name: "Create backup now" }).click();
    await shown(page.getByRole("status").filter({ hasText: "Backup created" }), 30_000);
    const row = page.locator("table.backups tbody tr[data-backup-id]").first();
    await eventually(() => row.locator('td[data-label="By"]').innerText()).toMatch(
      "before the yearly price change",
    );
    await eventually(() => row.locator('td[data-label="Verified"]').innerText()).toBe("not yet");
    await eventually(() =>
      page.locator("table.history tbody tr").first().locator('td[data-label="Note"]').innerText(),
    ).toBe("before the yearly price change");

    // The daily drill, as the cron service calls it.
    const secret = { authorization: "Bearer page-test-cron-secret-0123456789" };
    const drill = await fetch(new URL("/.netlify/functions/verify-backups", site.url), {
      method: "POST",
      headers: { ...secret, "content-type": "application/json" },
      body: "{}",
    });
    expect(drill.status, await drill.clone().text()).toBe(200);
    const usage = (
      await (
        await fetch(new URL(`/.netlify/functions/backup-usage?organization_id=${cedar.id}`, site.url), {
          headers: secret,
        })
      ).json()
    ).usage;
    expect(usage.tenants).toEqual([{ organization_id: cedar.id, bytes: usage.total_bytes, backups: 1 }]);

    // The page as the admin opens it next: signed in again, reading the drill's outcome.
    await page.close();
    page = await open();
    await signInAs(page, /Super admin/);
    await pickCedar();
    const drilledRow = page.locator("table.backups tbody tr[data-backup-id]").first();
    const storage = page.locator("#section-storage");
    await eventually(() => storage.locator(".storage-used").innerText()).toMatch(
      formatBytes(usage.total_bytes),
    );
    await eventually(() => storage.locator(".storage-used").innerText()).toMatch("of the 1.0 GB quota");
    await eventually(() => storage.locator(".last-drill").innerText()).toMatch(/Passed/);
    await eventually(() => drilledRow.locator('td[data-label="Verified"]').innerText()).toMatch(/^✓/);
    await shoot(page, "storage-and-drills");
    await page.close();
  });

  it("reads at 360 px: no sideways scrolling, every action reachable", async () => {
    const page = await open(360);
    await signInAs(page, new RegExp(`Admin of ${bluewater.name}`));
    await eventually(() => page.locator("table.backups tbody tr[data-backup-id]").count()).toBe(3);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    for (const name of [/^Details/, /^Download/, /^Restore from/, /^Delete/]) {
      const box = await page.getByRole("button", { name }).first().boundingBox();
      expect(box && box.x >= 0 && box.x + box.width <= 360, `${name} lies within the 360 px`).toBe(true);
    }
    await shoot(page, "overview-360", false);
    await page.close();
  });
});

describe("the page as deployed, signing in with Supabase Auth", () => {
  const PASSWORD = "correct horse battery staple";
  let deployed: LocalSite;
  let auth: Awaited<ReturnType<typeof startSupabaseAuthStandIn>>;
  let admin: { id: string; email: string };

  beforeAll(async () => {
    const { rows } = await db.client.query(
      "select id::text, email from profiles where organization_id = $1 and role = 'admin' order by id limit 1",
      [bluewater.id],
    );
    admin = rows[0];
    auth = await startSupabaseAuthStandIn([{ ...admin, password: PASSWORD }], db.client);
    // No demo sign-in: what Netlify runs, with the project's URL, anon key and legacy JWT secret.
    deployed = await startLocalSite({
      port: await freePort(),
      databaseUrl: db.url,
      demo: false,
      env: {
        // The same backups as the demo site's.
        BACKUP_DIR: join(stand.dir, "backups"),
        CRON_SECRET: "page-test-cron-secret-0123456789",
        LOG_LEVEL: "silent",
        SUPABASE_URL: auth.url,
        SUPABASE_ANON_KEY: "sb_publishable_page-test-anon-key",
        SUPABASE_SERVICE_ROLE_KEY: "page-test-service-role-key",
        SUPABASE_JWT_SECRET: auth.jwtSecret,
        BACKUP_STORAGE: "local",
      },
    });
  });

  afterAll(async () => {
    await deployed?.close();
    await auth?.close();
  });

  it("signs an admin in with email and password and opens their organization from their profile", async () => {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 }, locale: "en-GB" });
    await page.goto(deployed.url);
    await page.getByLabel("Email").fill(admin.email);
    await page.getByLabel("Password").fill("wrong password");
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await eventually(() => page.getByRole("alert").first().innerText()).toMatch("Invalid login credentials");

    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await eventually(() => page.locator(".tbr-org-name").innerText()).toBe(bluewater.name);
    await eventually(() => page.locator("table.backups tbody tr[data-backup-id]").count()).toBe(3);
    expect(await page.locator(".who-label").innerText()).toBe(admin.email);

    // The deployed site has no demo sign-in to offer, or to mint tokens with.
    const local = await page.evaluate(async () => (await fetch("/local-sign-in/users")).status);
    expect(local).toBe(404);
    await page.close();
  });

  it("sends a magic link that comes back to the page", async () => {
    const page = await browser.newPage();
    await page.goto(deployed.url);
    await page.getByLabel("Email").fill(admin.email);
    await page.getByRole("button", { name: "Email me a sign-in link" }).click();
    await eventually(() =>
      page.getByRole("status").filter({ hasText: "sign-in link" }).first().innerText(),
    ).toMatch(`A sign-in link is on its way to ${admin.email}.`);
    expect(auth.otpRequests).toEqual([{ email: admin.email, redirect: deployed.url }]);
    await page.close();
  });
});
