import type { Browser } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { nextSlotStart } from "../../lib/schedule/slots.ts";
import { DEMO_ORGANIZATIONS } from "../../scripts/demo/install.ts";
import type { LocalSite } from "../../scripts/local-site.ts";
import type { TestDatabase } from "../support/database.ts";
import { openPage, type PageSite, shown, startPageSite } from "../support/page-site.ts";

const bluewater = DEMO_ORGANIZATIONS[1] as (typeof DEMO_ORGANIZATIONS)[number];

let db: TestDatabase;
let site: LocalSite;
let browser: Browser;
let stand: PageSite;

beforeAll(async () => {
  stand = await startPageSite("schedule-page");
  ({ db, site, browser } = stand);
});

afterAll(() => stand?.close());

it("an admin sets a weekly schedule and sees its next run", async () => {
  // The organization's last scheduled backup completed just now, so its next run is the next Wednesday slot.
  await db.client.query(
    "insert into tenant_backup_schedules (organization_id, last_run_at) values ($1, now())",
    [bluewater.id],
  );
  const page = await openPage(browser, site.url, { as: new RegExp(`Admin of ${bluewater.name}`) });
  const section = page.locator("section.section-schedule");
  await shown(section.getByText("follows the server's default"));

  await section.getByLabel("Frequency").selectOption("weekly");
  await section.getByLabel("Day").selectOption({ label: "Wednesday" });
  await section.getByLabel("Time (UTC)").fill("05:00");
  await section.getByRole("button", { name: "Save schedule" }).click();
  await shown(section.getByRole("status").filter({ hasText: "Schedule saved." }));

  const expected = nextSlotStart(
    { frequency: "weekly", time_of_day: "05:00", day_of_week: 3, enabled: true },
    new Date(),
  ) as Date;
  const day = expected.toLocaleDateString("en-GB", {
    timeZone: "UTC",
    year: "numeric",
    month: "short",
    day: "numeric",
  });
  const nextRun = section.locator(".fact").filter({ hasText: "Next run" });
  await expect.poll(() => nextRun.innerText(), { timeout: 15_000 }).toContain(`${day}, 05:00`);
  expect(await section.getByText("follows the server's default").count()).toBe(0);

  const { rows } = await db.client.query(
    "select frequency, time_of_day, day_of_week, enabled, next_run_at from tenant_backup_schedules where organization_id = $1",
    [bluewater.id],
  );
  expect(rows).toEqual([
    { frequency: "weekly", time_of_day: "05:00", day_of_week: 3, enabled: true, next_run_at: expected },
  ]);
  await page.close();
});
