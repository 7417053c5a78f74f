/**
 * A summary is checked against the tenant, day and backup of the path it was found under: tenant B's
 * summary placed in tenant A's folder is refused with 422 and nothing changes.
 */
import { copyFile, mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handleBackupTenantData } from "../../functions/backup-tenant-data.ts";
import { handleRestoreTenantData } from "../../functions/restore-tenant-data.ts";
import { installSmallApp, ORG_A, ORG_B } from "../operations/small-app.ts";
import { call } from "../support/call.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { createTestServices, TEST_CRON_SECRET, type TestServices } from "../support/services.ts";

let db: TestDatabase;
let services: TestServices;

beforeAll(async () => {
  db = await createTestDatabase("migrated");
  await installSmallApp(db.owner);
  services = await createTestServices(db.url);
});

afterAll(async () => {
  await services?.cleanup();
  await db?.drop();
});

const backup = (org: string) =>
  call(handleBackupTenantData, services, "backup-tenant-data", {
    token: TEST_CRON_SECRET,
    body: { organization_id: org },
  });

async function state() {
  const { rows } = await db.client.query(
    "select organization_id, count(*)::int as n from notes group by 1 order by 1",
  );
  const orgs = await db.client.query("select id from organizations order by id");
  return { notes: rows, orgs: orgs.rows.map((r) => r.id) };
}

describe("a summary found under another tenant's folder", () => {
  it("is refused with 422 and nothing is changed", async () => {
    const a = await backup(ORG_A);
    const b = await backup(ORG_B);
    expect([a.status, b.status]).toEqual([200, 200]);
    // B's summary, renamed into A's folder for the same day, newer than A's own backup.
    const { backup_id: idB, backup_date: date, summary_path: pathB } = b.body.backup;
    const planted = `tenant-backups/${ORG_A}/${date}/summary-${idB}.json`;
    await mkdir(dirname(join(services.backupDir, planted)), { recursive: true });
    await copyFile(join(services.backupDir, pathB), join(services.backupDir, planted));
    await db.owner.query("delete from notes where organization_id = $1", [ORG_B]);
    await db.owner.query("delete from profiles where organization_id = $1", [ORG_B]);
    await db.owner.query("delete from organizations where id = $1", [ORG_B]);
    await db.owner.query(
      "insert into notes (organization_id, body) values ($1, 'written after the backup')",
      [ORG_A],
    );
    const before = await state();

    const answer = await call(handleRestoreTenantData, services, "restore-tenant-data", {
      token: TEST_CRON_SECRET,
      body: { organization_id: ORG_A, backup_date: date, dry_run: false },
    });
    expect(answer.status).toBe(422);
    expect(answer.body.error.details.file).toBe(planted);
    expect(answer.body.error.message).toContain("another organization");
    expect(await state()).toEqual(before);
  });
});
