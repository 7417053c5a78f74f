/**
 * Starts one embedded PostgreSQL for the test run (or uses TEST_DATABASE_URL, a server where we may create
 * databases) and prepares two template databases: migrated, and migrated with the demo app. Test files
 * clone them (tests/support/database.ts), which takes milliseconds.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import type { TestProject } from "vitest/node";
import { installDemo } from "../../scripts/demo/install.ts";
import { startEmbeddedPostgres } from "../../scripts/embedded-postgres.ts";
import { applyMigrations } from "../../scripts/migrate.ts";

export const TEMPLATE_MIGRATED = "tb_template_migrated";
export const TEMPLATE_DEMO = "tb_template_demo";

declare module "vitest" {
  export interface ProvidedContext {
    pgAdminUrl: string;
  }
}

async function createTemplate(adminUrl: string, name: string, prepare: (client: pg.Client) => Promise<void>) {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`drop database if exists ${name}`);
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    await prepare(client);
  } finally {
    await client.end();
  }
}

export default async function setup(project: TestProject) {
  let stop: (() => Promise<void>) | undefined;
  let adminUrl = process.env.TEST_DATABASE_URL;
  let dir: string | undefined;
  if (!adminUrl) {
    dir = await mkdtemp(join(tmpdir(), "tenant-backup-test-"));
    const server = await startEmbeddedPostgres({ dataDir: join(dir, "pg"), fast: true });
    adminUrl = server.url;
    stop = server.stop;
  }
  await createTemplate(adminUrl, TEMPLATE_MIGRATED, (client) => applyMigrations(client).then(() => {}));
  await createTemplate(adminUrl, TEMPLATE_DEMO, async (client) => {
    await installDemo(client);
    await applyMigrations(client);
  });
  project.provide("pgAdminUrl", adminUrl);
  return async () => {
    await stop?.();
    if (dir) await rm(dir, { recursive: true, force: true });
  };
}
