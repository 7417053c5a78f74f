/**
 * A fresh database per test file, cloned from a template prepared by global-setup.ts and owned by the
 * owner role (roles.ts), which plays Supabase's non-superuser `postgres`.
 *
 * `url` is the owner's connection: what the product and the services use on the direct path (PostgREST's
 * path logs in as `authenticatorUrl`). `owner` is a client on it for fixtures, so that the app's tables
 * belong to the owner as they belong to `postgres` on Supabase.
 * `client` and `adminUrl` are the superuser's, for the tests' own assertions and for fixture steps that
 * only a superuser may take; the product never gets them.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { inject } from "vitest";
import { AUTHENTICATOR, OWNER, type OwnerRole, urlAs } from "./roles.ts";

export interface TestDatabase {
  name: string;
  /** The owner's connection string: for the product, the services and the fake PostgREST. */
  url: string;
  /** The superuser's connection string: test assertions and superuser-only fixture steps. */
  adminUrl: string;
  /** PostgREST's login (`authenticator`), for the fake PostgREST. */
  authenticatorUrl: string;
  /** The role that owns the database (and, for the templates, everything in it). */
  ownerRole: OwnerRole;
  /** Connected as the owner: fixtures that create or fill the app's tables. */
  owner: pg.Client;
  /** Connected as the superuser: the test's own queries. */
  client: pg.Client;
  drop(): Promise<void>;
}

export async function createTestDatabase(
  template: "migrated" | "demo" | "empty",
  options: { owner?: OwnerRole } = {},
): Promise<TestDatabase> {
  const serverAdminUrl = inject("pgAdminUrl");
  const ownerRole = options.owner ?? OWNER;
  if (template !== "empty" && ownerRole !== OWNER) {
    // The templates' objects belong to OWNER: another owner starts from an empty database.
    throw new Error(`a ${template} database is owned by ${OWNER}; use an empty one for ${ownerRole}`);
  }
  const name = `t_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: serverAdminUrl });
  await admin.connect();
  const source =
    template === "empty" ? "template0" : template === "demo" ? "tb_template_demo" : "tb_template_migrated";
  await admin.query(`create database ${name} template ${source} owner ${ownerRole}`);
  await admin.end();
  const adminUrl = new URL(serverAdminUrl);
  adminUrl.pathname = `/${name}`;
  const url = urlAs(serverAdminUrl, ownerRole, name);
  const client = new pg.Client({ connectionString: adminUrl.toString() });
  const owner = new pg.Client({ connectionString: url });
  await client.connect();
  await owner.connect();
  return {
    name,
    url,
    adminUrl: adminUrl.toString(),
    authenticatorUrl: urlAs(serverAdminUrl, AUTHENTICATOR, name),
    ownerRole,
    owner,
    client,
    async drop() {
      await owner.end();
      await client.end();
      const again = new pg.Client({ connectionString: serverAdminUrl });
      await again.connect();
      await again.query(`drop database if exists ${name} with (force)`);
      await again.end();
    },
  };
}
