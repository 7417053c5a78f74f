/**
 * The admin page as the browser tests open it: the local site (scripts/local-site.ts) on a demo database of
 * its own, with a real Chromium. Backups go to `dir`/backups; `env` may add variables naming other places in
 * `dir`.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Locator, Page } from "playwright-core";
import { freePort } from "../../scripts/embedded-postgres.ts";
import { type LocalSite, startLocalSite } from "../../scripts/local-site.ts";
import { launchChromium } from "./browser.ts";
import { createTestDatabase, type TestDatabase } from "./database.ts";

export interface PageSite {
  db: TestDatabase;
  site: LocalSite;
  browser: Browser;
  /** A folder of the test's own, removed by close(). */
  dir: string;
  close(): Promise<void>;
}

export async function startPageSite(
  name: string,
  options: {
    /** Runs on the demo database before the site starts. */
    prepare?: (db: TestDatabase) => Promise<void>;
    env?: (dir: string) => Record<string, string>;
  } = {},
): Promise<PageSite> {
  const db = await createTestDatabase("demo");
  const dir = await mkdtemp(join(tmpdir(), `tenant-backup-${name}-`));
  let site: LocalSite | undefined;
  let browser: Browser | undefined;
  const close = async () => {
    await browser?.close();
    await site?.close();
    await db.drop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await options.prepare?.(db);
    site = await startLocalSite({
      port: await freePort(),
      databaseUrl: db.url,
      demo: true,
      env: {
        BACKUP_DIR: join(dir, "backups"),
        CRON_SECRET: "page-test-cron-secret-0123456789",
        LOG_LEVEL: "silent",
        ...options.env?.(dir),
      },
    });
    browser = await launchChromium();
    return { db, site, browser, dir, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Waits, as a user would, until the locator is shown. */
export const shown = (locator: Locator, timeout = 15_000) =>
  locator.first().waitFor({ state: "visible", timeout });

/**
 * A page of the site as the browser tests read it (1440 pixels wide unless `width`, en-GB, UTC), where an
 * uncaught script error fails the test; signed in through the demo sign-in button that `as` names, if given.
 */
export async function openPage(
  browser: Browser,
  url: string,
  options: { width?: number; as?: RegExp } = {},
): Promise<Page> {
  const page = await browser.newPage({
    viewport: { width: options.width ?? 1440, height: 900 },
    locale: "en-GB",
    timezoneId: "UTC",
  });
  page.on("pageerror", (err) => {
    throw err;
  });
  await page.goto(url);
  if (options.as) await page.getByRole("button", { name: options.as }).click();
  return page;
}
