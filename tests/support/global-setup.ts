/**
 * Starts one embedded PostgreSQL for the test run (or uses TEST_DATABASE_URL, a server where we may create
 * databases and roles) with Supabase's cluster roles (roles.ts), and prepares two template databases owned
 * by the owner role: migrated, and migrated with the demo app. The demo app and our migrations are
 * installed connected AS the owner, under Supabase's default privileges, as `supabase db push` does on a
 * hosted project. Test files clone the templates (tests/support/database.ts), which takes milliseconds.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import type { TestProject } from "vitest/node";
import { installDemo } from "../../scripts/demo/install.ts";
import { startEmbeddedPostgres } from "../../scripts/embedded-postgres.ts";
import { applyMigrations } from "../../scripts/migrate.ts";
import { installClusterRoles, installSupabaseDefaults, OWNER, urlAs } from "./roles.ts";

export const TEMPLATE_MIGRATED = "tb_template_migrated";
export const TEMPLATE_DEMO = "tb_template_demo";

declare module "vitest" {
  export interface ProvidedContext {
    pgAdminUrl: string;
  }
}

async function createTemplate(adminUrl: string, name: string, prepare: (owner: pg.Client) => Promise<void>) {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`drop database if exists ${name}`);
  await admin.query(`create database ${name} owner ${OWNER}`);
  await admin.end();
  const owner = new pg.Client({ connectionString: urlAs(adminUrl, OWNER, name) });
  await owner.connect();
  try {
    await installSupabaseDefaults(owner);
    await prepare(owner);
  } finally {
    await owner.end();
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
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await installClusterRoles(admin);
  } finally {
    await admin.end();
  }
  await createTemplate(adminUrl, TEMPLATE_MIGRATED, (owner) => applyMigrations(owner).then(() => {}));
  await createTemplate(adminUrl, TEMPLATE_DEMO, async (owner) => {
    await installDemo(owner);
    await applyMigrations(owner);
  });
  project.provide("pgAdminUrl", adminUrl);
  return async () => {
    await stop?.();
    if (dir) await rm(dir, { recursive: true, force: true });
  };
}
