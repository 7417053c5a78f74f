/**
 * `npm run restore`: the same restore from a shell, for tenants too big for one function call.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runDailyBackup } from "../../lib/backup/daily.ts";
import { DEMO_ORGANIZATIONS } from "../../scripts/demo/install.ts";
import { deadlineIn } from "../support/clock.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { createTestServices, type TestServices } from "../support/services.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));
let db: TestDatabase;
let services: TestServices;
let backupDate: string;

function cli(args: string[]) {
  return spawnSync(process.execPath, ["--import", "tsx", `${root}scripts/restore.ts`, ...args], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, DATABASE_URL: db.url, BACKUP_DIR: services.backupDir, CRON_SECRET: "" },
  });
}

beforeAll(async () => {
  db = await createTestDatabase("demo");
  services = await createTestServices(db.url);
  backupDate = (await runDailyBackup(services, { deadline: deadlineIn(services) })).backup_date;
});

afterAll(async () => {
  await services?.cleanup();
  await db?.drop();
});

describe("npm run restore", () => {
  it("refuses missing or malformed arguments with exit code 2", () => {
    expect(cli([]).status).toBe(2);
    const bad = cli(["--organization", DEMO_ORGANIZATIONS[2]?.id as string, "--date", "2026-02-30"]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("--date");
    const notUuid = cli(["--organization", "not-a-uuid", "--date", "2026-02-20"]);
    expect(notUuid.status).toBe(2);
    expect(notUuid.stderr).toContain("--organization is not a valid uuid");
    const files = cli(["--organization", "x", "--date", "2026-02-20", "--files", "all"]);
    expect(files.status).toBe(2);
    expect(files.stderr).toContain("--files must be true, false or only");
  });

  it("dry-runs by default and applies with --apply", { timeout: 120_000 }, async () => {
    const org = DEMO_ORGANIZATIONS[2]?.id as string;
    await db.client.query("delete from audit_logs where organization_id = $1", [org]);
    // Any spelling PostgreSQL reads as that uuid finds the tenant's backups.
    const dry = cli(["--organization", org.replaceAll("-", "").toUpperCase(), "--date", backupDate]);
    expect(dry.status, dry.stderr).toBe(0);
    const report = JSON.parse(dry.stdout).report;
    expect(report.dry_run).toBe(true);
    expect(report.tables.audit_logs.would_insert).toBeGreaterThan(0);
    const before = await db.client.query(
      "select count(*)::int as n from audit_logs where organization_id = $1",
      [org],
    );
    expect(before.rows[0].n).toBe(0);

    const real = cli(["--organization", org, "--date", backupDate, "--apply"]);
    expect(real.status, real.stderr).toBe(0);
    const after = await db.client.query(
      "select count(*)::int as n from audit_logs where organization_id = $1",
      [org],
    );
    expect(after.rows[0].n).toBe(report.tables.audit_logs.would_insert);
  });
});
