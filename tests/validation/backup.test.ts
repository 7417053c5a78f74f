/**
 * Validation around backups and restores: the rules run before each backup and their summary is kept in
 * the manifest, in backup_logs and in list-backups; VALIDATION_BLOCKS_BACKUP refuses a backup of bad data
 * unless a manual backup overrides it; a dry-run restore reports what the backup's rows would break,
 * checked inside the rolled-back apply, and leaves the tenant's rows as they were. The daily run checks
 * every tenant against the rules it reads once for the call.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handleBackupTenantData } from "../../functions/backup-tenant-data.ts";
import { handleListBackups } from "../../functions/list-backups.ts";
import { handleRestoreTenantData } from "../../functions/restore-tenant-data.ts";
import { runDailyBackup } from "../../lib/backup/daily.ts";
import { readManifest } from "../../lib/backup/reader.ts";
import { validateTenant } from "../../lib/validation/check.ts";
import { installSmallApp, ORG_A, ORG_B, ORG_C } from "../operations/small-app.ts";
import { call } from "../support/call.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { createTestServices, TEST_CRON_SECRET, type TestServices } from "../support/services.ts";

let db: TestDatabase;
let services: TestServices;
let blocking: TestServices;
let ruleId: string;
/** The ids of org-a's notes made blank. */
let blankIds: { id: string }[];

beforeAll(async () => {
  db = await createTestDatabase("migrated");
  await installSmallApp(db.owner);
  const blank = await db.owner.query(
    "update notes set body = '' where organization_id = 'org-a' and body in ('note 3', 'note 7') returning id",
  );
  blankIds = blank.rows.map((r) => ({ id: String(r.id) })).sort((a, b) => Number(a.id) - Number(b.id));
  // Another tenant's blank note: never part of org-a's summaries.
  await db.owner.query("update notes set body = ' ' where organization_id = 'org-b' and body = 'note 1'");
  const env = { MANUAL_BACKUP_MIN_INTERVAL_SECONDS: "0", DRY_RUN_MIN_INTERVAL_SECONDS: "0" };
  services = await createTestServices(db.url, env);
  blocking = await createTestServices(db.url, { ...env, VALIDATION_BLOCKS_BACKUP: "true" });
  services.clock.set("2026-11-22T10:00:00Z");
  blocking.clock.set("2026-11-22T11:00:00Z");
  const stored = await services.db.addValidationRule({
    table: "notes",
    column: "body",
    kind: "required",
    params: {},
    enabled: true,
  });
  if (!("rule" in stored)) throw new Error("rule refused");
  ruleId = stored.rule.id;
});

afterAll(async () => {
  await services?.cleanup();
  await blocking?.cleanup();
  await db?.drop();
});

const backup = (s: TestServices, body: Record<string, unknown>) =>
  call(handleBackupTenantData, s, "backup-tenant-data", { token: TEST_CRON_SECRET, body });

const SUMMARY = { rules: 1, failed: 1, violations: 2, errors: 0 };

describe("before each backup", () => {
  it("runs the rules and keeps the summary in the manifest, backup_logs and list-backups; bad data does not stop it", async () => {
    const response = await backup(services, { organization_id: ORG_A });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    const manifest = await readManifest(services.storage, response.body.backup.summary_path);
    expect(manifest.validation).toEqual({
      ...SUMMARY,
      // The test clock moves a millisecond a reading.
      checked_at: expect.stringMatching(/^2026-11-22T10:00:00\.0\d\dZ$/),
      results: [
        {
          rule_id: ruleId,
          table: "notes",
          column: "body",
          kind: "required",
          violations: 2,
          sample_keys: blankIds,
          message: expect.stringMatching(/^2 rows break the rule: notes\.body is required/),
        },
      ],
    });
    const log = await db.client.query(
      "select details->'validation' as v from backup_logs where backup_id = $1 and status = 'completed'",
      [response.body.backup.backup_id],
    );
    const checked_at = manifest.validation?.checked_at;
    expect(log.rows).toEqual([{ v: { ...SUMMARY, checked_at } }]);
    const list = await call(handleListBackups, services, "list-backups", {
      method: "GET",
      token: TEST_CRON_SECRET,
      query: { organization_id: ORG_A },
    });
    expect(list.body.backups[0].validation).toEqual({ ...SUMMARY, checked_at });
  });

  it("with VALIDATION_BLOCKS_BACKUP on, bad data refuses the backup (422, nothing stored) unless ignore_validation", async () => {
    const before = await blocking.storage.list("tenant-backups/org-a/2026-11-22/");
    const refused = await backup(blocking, { organization_id: ORG_A });
    expect(refused.status).toBe(422);
    expect(refused.body.error.message).toMatch(/2 rows break 1 validation rules.*ignore_validation: true/);
    expect(refused.body.error.details.validation).toMatchObject(SUMMARY);
    expect(await blocking.storage.list("tenant-backups/org-a/2026-11-22/")).toEqual(before);
    const failed = await db.client.query(
      "select status from backup_logs where backup_type = 'manual_tenant' order by id desc limit 1",
    );
    expect(failed.rows).toEqual([{ status: "failed" }]);

    const typo = await backup(blocking, { organization_id: ORG_A, ignore_validation: "yes" });
    expect(typo.status).toBe(400);
    expect(typo.body.error.details.field).toBe("ignore_validation");

    const overridden = await backup(blocking, { organization_id: ORG_A, ignore_validation: true });
    expect(overridden.status, JSON.stringify(overridden.body)).toBe(200);
    const manifest = await readManifest(blocking.storage, overridden.body.backup.summary_path);
    expect(manifest.validation).toMatchObject(SUMMARY);
  });
});

describe("a dry-run restore", () => {
  it("reports what the backup's rows would break, and changes nothing", async () => {
    const taken = await backup(services, { organization_id: ORG_A });
    expect(taken.status).toBe(200);
    // The live rows are fixed since: only the backup's rows break the rule now.
    await db.owner.query("update notes set body = 'fixed' where body = ''");
    expect((await validateTenant(services, ORG_A)).summary.violations).toBe(0);
    const rowsBefore = (await db.client.query("select * from notes order by id")).rows;

    const response = await call(handleRestoreTenantData, services, "restore-tenant-data", {
      token: TEST_CRON_SECRET,
      body: {
        organization_id: ORG_A,
        backup_date: taken.body.backup.backup_date,
        backup_id: taken.body.backup.backup_id,
        dry_run: true,
      },
    });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    expect(response.body.summary.dry_run).toBe(true);
    expect(response.body.tables.notes).toMatchObject({ record_count: 20, would_change: 2, restored: 0 });
    expect(response.body.summary.validation.summary).toMatchObject(SUMMARY);
    expect(response.body.summary.validation.results[0]).toMatchObject({
      rule_id: ruleId,
      violations: 2,
      sample_keys: blankIds,
    });
    expect((await db.client.query("select * from notes order by id")).rows).toEqual(rowsBefore);
    const log = await db.client.query(
      "select status, dry_run from backup_logs where backup_type = 'restore' order by id desc limit 1",
    );
    expect(log.rows).toEqual([{ status: "completed", dry_run: true }]);
    const leftovers = await db.client.query("select count(*)::int as n from tenant_backup_locks");
    expect(leftovers.rows).toEqual([{ n: 0 }]);
  });
});

describe("the daily run", () => {
  it("checks every tenant against the rules, read once for the whole call", async () => {
    const asked: string[] = [];
    const caller = services.db.caller;
    const call = caller.call;
    caller.call = <T>(name: string, args: Record<string, unknown>) => {
      asked.push(name);
      return call.call(caller, name, args) as Promise<T>;
    };
    let result: Awaited<ReturnType<typeof runDailyBackup>>;
    try {
      result = await runDailyBackup(services, { deadline: services.now().getTime() + 600_000 });
    } finally {
      caller.call = call;
    }
    const done = result.tenants.filter((t) => t.status === "completed");
    expect(done.map((t) => t.organization_id).sort()).toEqual([ORG_A, ORG_B, ORG_C]);
    expect(asked.filter((name) => name === "tenant_backup_validation_rule_list")).toHaveLength(1);
    expect(asked.filter((name) => name === "tenant_backup_prepare")).toHaveLength(1);
    // Each tenant's backup holds what its own rows break, as a check of that tenant alone finds it.
    const logged = await db.client.query(
      "select organization_id, details->'validation' as v from backup_logs where backup_id = any($1)",
      [done.map((t) => (t as { backup_id: string }).backup_id)],
    );
    const found = Object.fromEntries(logged.rows.map((r) => [r.organization_id, r.v?.violations]));
    const expected: Record<string, number> = {};
    for (const tenant of [ORG_A, ORG_B, ORG_C]) {
      expected[tenant] = (await validateTenant(services, tenant)).summary.violations;
    }
    expect(found).toEqual(expected);
    // org-b's blank note: a tenant with bad rows, so the rules did run for more than the first tenant.
    expect(expected[ORG_B]).toBe(1);
  });
});
