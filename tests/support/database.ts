/**
 * A fresh database per test file, cloned from a template prepared by global-setup.ts.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { inject } from "vitest";

export interface TestDatabase {
  name: string;
  url: string;
  /** A connection for the test's own queries (superuser). */
  client: pg.Client;
  drop(): Promise<void>;
}

export async function createTestDatabase(template: "migrated" | "demo" | "empty"): Promise<TestDatabase> {
  const adminUrl = inject("pgAdminUrl");
  const name = `t_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  const source =
    template === "empty" ? "template0" : template === "demo" ? "tb_template_demo" : "tb_template_migrated";
  await admin.query(`create database ${name} template ${source}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  return {
    name,
    url: url.toString(),
    client,
    async drop() {
      await client.end();
      const again = new pg.Client({ connectionString: adminUrl });
      await again.connect();
      await again.query(`drop database if exists ${name} with (force)`);
      await again.end();
    },
  };
}
