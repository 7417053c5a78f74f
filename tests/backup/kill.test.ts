/**
 * A daily run killed half way (SIGKILL, no chance to clean up) leaves no backup that looks complete, and
 * the next call finishes the job, continuing the interrupted run rather than leaving it dangling.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handleDailyTenantBackup } from "../../functions/daily-tenant-backup.ts";
import { readManifest } from "../../lib/backup/reader.ts";
import { DEMO_ORGANIZATIONS } from "../../scripts/demo/install.ts";
import { onlyManifest, readVerifiedFile, rowCounts } from "../support/backup-files.ts";
import { call } from "../support/call.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { waitForFreeLease } from "../support/lease.ts";
import { createTestServices, TEST_CRON_SECRET, type TestServices } from "../support/services.ts";

let db: TestDatabase;
let services: TestServices;
// One tenant at a time, so that the run killed half way has exactly one tenant's run in progress.
const env = {
  BACKUP_TENANT_CONCURRENCY: "1",
  BACKUP_LOCK_TTL_SECONDS: "1",
  BACKUP_PAGE_ROWS: "1500",
  BACKUP_MAX_FILE_BYTES: "200000",
};

beforeAll(async () => {
  db = await createTestDatabase("demo");
  services = await createTestServices(db.url, env);
});

afterAll(async () => {
  await services?.cleanup();
  await db?.drop();
});

/** Starts the daily run in a child process and SIGKILLs it once it has stored `puts` objects. */
function runAndKill(puts: number): Promise<string[]> {
  const root = fileURLToPath(new URL("../../", import.meta.url));
  // node itself, not the tsx wrapper: the wrapper would die and leave its child running.
  const child = spawn(process.execPath, ["--import", "tsx", `${root}tests/support/backup-child.ts`], {
    cwd: root,
    env: {
      ...process.env,
      ...env,
      DATABASE_URL: db.url,
      BACKUP_DIR: services.backupDir,
      CRON_SECRET: TEST_CRON_SECRET,
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const stored: string[] = [];
  let buffer = "";
  return new Promise((resolve, reject) => {
    child.stdout.on("data", (chunk: Buffer) => {
      buffer += chunk.toString();
      const lines = buffer.split("\n");
      buffer = lines.pop() ?? "";
      for (const line of lines) {
        if (line.startsWith("PUT ")) stored.push(line.slice(4));
        if (line.startsWith("DONE")) reject(new Error("the run finished before it could be killed"));
      }
      if (stored.length >= puts) child.kill("SIGKILL");
    });
    child.on("exit", (_code, signal) =>
      signal === "SIGKILL" ? resolve(stored) : reject(new Error(`exited: ${signal}`)),
    );
  });
}

describe("a daily run killed half way", () => {
  it("leaves nothing that looks complete, and the next call finishes it", async () => {
    // Past the first tenant's files and its summary, into the second tenant's tables.
    const stored = await runAndKill(60);
    const summaries = stored.filter((p) => p.includes("/summary-"));
    expect(stored.length).toBeGreaterThanOrEqual(60);

    // Whatever summary exists is whole: every file it names is there and checks out.
    for (const path of summaries) {
      const manifest = await readManifest(services.storage, path);
      for (const table of manifest.tables)
        for (const file of table.files) await readVerifiedFile(services.storage, file);
    }
    // The tenant being written when the kill came has files but no summary: it has no backup yet.
    const interrupted = DEMO_ORGANIZATIONS.filter(
      (org) =>
        stored.some((p) => p.includes(`/${org.id}/`)) && !summaries.some((p) => p.includes(`/${org.id}/`)),
    );
    expect(interrupted).toHaveLength(1);
    const running = await db.client.query("select backup_id from backup_logs where status = 'running'");
    expect(running.rows).toHaveLength(1);

    // The killed holder's lease expires (1 s here); then the next call completes every tenant.
    await waitForFreeLease(services, interrupted[0]?.id as string);
    const next = await call(handleDailyTenantBackup, services, "daily-tenant-backup", {
      token: TEST_CRON_SECRET,
    });
    expect(next.status, JSON.stringify(next.body.tenants)).toBe(200);
    expect(next.body.summary.successful_tenants).toBe(DEMO_ORGANIZATIONS.length);

    const logs = await db.client.query("select backup_id, status from backup_logs order by id");
    expect(logs.rows.every((r) => r.status === "completed")).toBe(true);
    expect(logs.rows).toHaveLength(DEMO_ORGANIZATIONS.length);
    // The interrupted run was continued under its own id, not abandoned.
    expect(logs.rows.map((r) => r.backup_id)).toContain(running.rows[0].backup_id);

    const org = interrupted[0]?.id as string;
    const manifest = await onlyManifest(services.storage, org);
    const { inFiles, inManifest } = await rowCounts(services.storage, manifest);
    expect(inFiles).toEqual(inManifest);
    const scans = await db.client.query(
      "select count(*)::int as n from bottle_scans where organization_id = $1",
      [org],
    );
    expect(manifest.tables.find((t) => t.name === "bottle_scans")?.row_count).toBe(scans.rows[0].n);
  });
});
