/**
 * Validation rules against the real PostgreSQL: each kind counts exactly the rows of the tenant that
 * break it and names their keys; a violating row of another tenant never appears; the direct path and
 * the PostgREST path (supabase-js rpc through the fake PostgREST, as service_role) give the same report.
 */
import { readFileSync } from "node:fs";
import type { SetupServer } from "msw/node";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ValidationResult } from "../../lib/api-answers.ts";
import { runManualBackup } from "../../lib/backup/manual.ts";
import { restoreTenant } from "../../lib/restore/restore-tenant.ts";
import { validateTenant } from "../../lib/validation/check.ts";
import type { RuleInput } from "../../lib/validation/rules.ts";
import { deadlineIn } from "../support/clock.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { type FakeSupabase, startFakeSupabase } from "../support/fake-supabase.ts";
import { createTestServices, type TestServices } from "../support/services.ts";

const PROJECT_URL = "https://fake-project.supabase.co";
const NOW = "2026-11-22T12:00:00Z";

let db: TestDatabase;
let fake: FakeSupabase["fake"];
let server: SetupServer;
let direct: TestServices;
let viaRpc: TestServices;

/** Every rule of the test, by a name the assertions use. */
const RULES: Record<string, Omit<RuleInput, "enabled">> = {
  required: { table: "customers", column: "name", kind: "required", params: {} },
  email: { table: "customers", column: "email", kind: "format", params: { format: "email" } },
  pattern: { table: "customers", column: "code", kind: "format", params: { pattern: "^A[12]$" } },
  range: { table: "customers", column: "credit", kind: "range", params: { min: 0, max: 100 } },
  positive: { table: "customers", column: "credit", kind: "range", params: { positive: true } },
  oneOf: { table: "customers", column: "status", kind: "one_of", params: { values: ["active", "closed"] } },
  unique: { table: "customers", column: "code", kind: "unique_in_tenant", params: {} },
  references: {
    table: "orders",
    column: "customer_id",
    kind: "references",
    params: { table: "customers", column: "id" },
  },
  dateOrder: { table: "orders", column: "starts_on", kind: "date_order", params: { before: "ends_on" } },
  dateOrderStrict: {
    table: "orders",
    column: "starts_on",
    kind: "date_order",
    params: { before: "ends_on", strict: true },
  },
  notInPast: { table: "orders", column: "due_at", kind: "not_in_past", params: {} },
  notInFuture: { table: "orders", column: "placed_on", kind: "not_in_future", params: {} },
  childRange: { table: "order_lines", column: "qty", kind: "range", params: { positive: true } },
  noKeyUnique: { table: "tags", column: "label", kind: "unique_in_tenant", params: {} },
};
const ids: Record<string, string> = {};

beforeAll(async () => {
  db = await createTestDatabase("migrated");
  await db.owner.query(readFileSync(new URL("../fixtures/validation-app.sql", import.meta.url), "utf8"));
  const api = await startFakeSupabase(db, PROJECT_URL);
  ({ fake, server } = api);
  direct = await createTestServices(db.url);
  // The same backup storage: a backup taken on one path is restored on the other.
  viaRpc = await createTestServices(db.url, api.env, { storage: direct.storage });
  direct.clock.set(NOW);
  viaRpc.clock.set(NOW);
  for (const [name, rule] of Object.entries(RULES)) {
    const stored = await direct.db.addValidationRule({ ...rule, enabled: true } as RuleInput);
    if (!("rule" in stored)) throw new Error(`rule ${name} refused: ${JSON.stringify(stored)}`);
    ids[name] = stored.rule.id;
  }
});

afterAll(async () => {
  server?.close();
  await direct?.cleanup();
  await viaRpc?.cleanup();
  await fake?.close();
  await db?.drop();
});

function byRule(results: ValidationResult[]) {
  const out: Record<string, { violations: number | null; keys: Record<string, string>[] }> = {};
  for (const [name, id] of Object.entries(ids)) {
    const r = results.find((x) => x.rule_id === id);
    if (r) out[name] = { violations: r.violations, keys: r.sample_keys };
  }
  return out;
}

const id = (...n: number[]) => n.map((v) => ({ id: String(v) }));

describe("each rule kind, for one tenant", () => {
  it("counts exactly the tenant's offending rows and names their keys, in key order", async () => {
    const report = await validateTenant(direct, "org-a");
    expect(report.results.every((r) => r.error === undefined)).toBe(true);
    expect(byRule(report.results)).toEqual({
      required: { violations: 2, keys: id(2, 4) },
      email: { violations: 3, keys: id(2, 4, 6) },
      pattern: { violations: 2, keys: id(4, 6) },
      range: { violations: 2, keys: id(2, 4) },
      positive: { violations: 2, keys: id(2, 3) },
      oneOf: { violations: 1, keys: id(2) },
      unique: { violations: 4, keys: id(1, 2, 4, 6) },
      // 101 is a customer, of org-b: no reference for org-a's order 12.
      references: { violations: 2, keys: id(12, 13) },
      dateOrder: { violations: 1, keys: id(11) },
      dateOrderStrict: { violations: 2, keys: id(11, 12) },
      notInPast: { violations: 2, keys: id(11, 13) },
      // 13 is placed today: not in the future.
      notInFuture: { violations: 1, keys: id(11) },
      childRange: {
        violations: 2,
        keys: [
          { order_id: "10", line: "2" },
          { order_id: "11", line: "1" },
        ],
      },
      noKeyUnique: { violations: 2, keys: [{ row: "(org-a,vip)" }, { row: "(org-a,vip)" }] },
    });
    expect(report.summary).toMatchObject({ rules: 14, failed: 14, violations: 28, errors: 0 });
    const broken = report.results.find((r) => r.rule_id === ids.email);
    expect(broken?.message).toMatch(/^3 rows break the rule: customers\.email must be a valid email\. Fix: /);
  });

  it("never names a row of another tenant: org-b's report holds only org-b's keys", async () => {
    const report = await validateTenant(direct, "org-b");
    expect(byRule(report.results)).toEqual({
      required: { violations: 1, keys: id(101) },
      email: { violations: 1, keys: id(101) },
      pattern: { violations: 0, keys: [] },
      range: { violations: 2, keys: id(101, 102) },
      positive: { violations: 1, keys: id(101) },
      oneOf: { violations: 1, keys: id(101) },
      // A1 twice in org-b; org-a's A1 and A2 are not org-b's duplicates.
      unique: { violations: 2, keys: id(101, 102) },
      // Order 111 points at customer 1, which is org-a's.
      references: { violations: 1, keys: id(111) },
      dateOrder: { violations: 1, keys: id(110) },
      dateOrderStrict: { violations: 1, keys: id(110) },
      notInPast: { violations: 1, keys: id(110) },
      notInFuture: { violations: 1, keys: id(110) },
      childRange: {
        violations: 2,
        keys: [
          { order_id: "110", line: "1" },
          { order_id: "110", line: "2" },
        ],
      },
      noKeyUnique: { violations: 0, keys: [] },
    });
  });

  it("a rule that passes says ok, and a disabled rule is not checked", async () => {
    await db.client.query("update tenant_backup_validation_rules set enabled = false where id = $1", [
      ids.pattern,
    ]);
    try {
      const report = await validateTenant(direct, "org-b");
      expect(report.results.some((r) => r.rule_id === ids.pattern)).toBe(false);
      expect(report.summary.rules).toBe(13);
      const ok = report.results.find((r) => r.rule_id === ids.noKeyUnique);
      expect(ok?.message).toBe("ok: tags.label must be unique within the organization");
    } finally {
      await db.client.query("update tenant_backup_validation_rules set enabled = true where id = $1", [
        ids.pattern,
      ]);
    }
  });

  it("a rule whose column was dropped since is reported as not checked, the others still run", async () => {
    await db.owner.query("alter table customers add column nickname text");
    const stored = await direct.db.addValidationRule({
      table: "customers",
      column: "nickname",
      kind: "required",
      params: {},
      enabled: true,
    });
    await db.owner.query("alter table customers drop column nickname");
    try {
      const report = await validateTenant(direct, "org-a");
      const gone = report.results.find((r) => "rule" in stored && r.rule_id === stored.rule.id);
      expect(gone).toMatchObject({ violations: null, error: "column: customers has no column nickname" });
      expect(report.summary).toMatchObject({ rules: 15, failed: 14, errors: 1 });
    } finally {
      if ("rule" in stored) await direct.db.deleteValidationRule(stored.rule.id);
    }
  });
});

describe("bounded in time", () => {
  it("a check that cannot finish in the call's time is cut and reported as not checked; the others run", async () => {
    // Writers hold customers: every check that reads it waits, until its statement timeout cuts it.
    const holder = new pg.Client({ connectionString: db.adminUrl });
    await holder.connect();
    try {
      await holder.query("begin");
      await holder.query("lock table customers in access exclusive mode");
      const started = Date.now();
      const report = await validateTenant(direct, "org-a", { deadline: direct.now().getTime() + 300 });
      const readsCustomers = new Set([
        ...Object.entries(RULES)
          .filter(([, rule]) => rule.table === "customers" || rule.kind === "references")
          .map(([name]) => ids[name]),
      ]);
      for (const result of report.results) {
        if (readsCustomers.has(result.rule_id)) {
          expect(result).toMatchObject({
            violations: null,
            error: expect.stringMatching(/statement timeout/),
          });
        } else {
          expect(result.error).toBeUndefined();
        }
      }
      expect(report.summary.errors).toBe(readsCustomers.size);
      // Eight checks cut at about 0.3 s each, not left waiting for the lock.
      expect(Date.now() - started).toBeLessThan(8 * 300 + 5_000);
    } finally {
      await holder.query("rollback");
      await holder.end();
    }
    // Once the writers are gone, every rule is checked again.
    expect((await validateTenant(direct, "org-a")).summary.errors).toBe(0);
  });
});

describe("the two database paths", () => {
  it("the PostgREST path (rpc as service_role) gives the same report as the direct one", async () => {
    expect(viaRpc.db.kind).toBe("supabase");
    for (const tenant of ["org-a", "org-b"]) {
      const [a, b] = [await validateTenant(direct, tenant), await validateTenant(viaRpc, tenant)];
      expect(b.results).toEqual(a.results);
      expect(b.summary.violations).toBe(a.summary.violations);
    }
    expect(fake.calls.some((c) => c.fn === "tenant_backup_validation_check")).toBe(true);
  });

  it("a dry-run restore through rpc checks the backup's rows inside its rolled-back apply", async () => {
    const taken = await runManualBackup(direct, "org-a", { deadline: deadlineIn(direct) });
    if (taken.status !== "completed") throw new Error("backup did not complete");
    const outcome = await restoreTenant(viaRpc, {
      tenantId: "org-a",
      backupDate: taken.date,
      backupId: taken.backupId,
      dryRun: true,
      deadline: deadlineIn(viaRpc),
    });
    if (outcome.status !== "done") throw new Error("dry run did not finish");
    expect(fake.calls.some((c) => c.fn === "tenant_backup_apply_checked")).toBe(true);
    expect(outcome.report).toMatchObject({ success: true, dry_run: true });
    // The backup holds the rows as they are: the same report as the live check.
    expect(outcome.validation?.results).toEqual((await validateTenant(direct, "org-a")).results);
  });
});
