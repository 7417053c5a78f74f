/**
 * tenant_backup_catalog in parts (migration 20261201000003) answers exactly what the released single
 * function answered, on every schema the tests know (the demo app, the restore app with a table without a
 * primary key, the awkward types with an integer tenant id and composite keys, and tables in a foreign-key
 * cycle): each database is migrated up to the file before the parts, its catalog kept, then migrated to
 * the end and asked again. A plan's id is the catalog's hash, so plans made before the upgrade still match.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installDemo } from "../../scripts/demo/install.ts";
import { applyMigrations, migrationFiles } from "../../scripts/migrate.ts";
import { fixture } from "../restore/app.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

const PARTS = "20261201000003_tenant_backup_catalog_parts.sql";

const SCHEMAS: { name: string; root: string; key: string; install: (db: TestDatabase) => Promise<void> }[] = [
  {
    name: "the demo app",
    root: "organizations",
    key: "organization_id",
    install: (db) => installDemo(db.client),
  },
  {
    name: "the restore app, one table without a primary key",
    root: "workspaces",
    key: "workspace_id",
    install: async (db) => {
      for (const file of ["restore-app.sql", "restore-app-data.sql", "restore-no-key.sql"]) {
        await db.client.query(fixture(file));
      }
    },
  },
  {
    name: "awkward types, composite keys, an integer tenant id",
    root: "tenants",
    key: "tenant_id",
    install: async (db) => {
      for (const file of ["awkward-schema.sql", "awkward-data.sql", "restore-types.sql"]) {
        await db.client.query(fixture(file));
      }
    },
  },
  {
    name: "tables in a foreign-key cycle, and a self reference",
    root: "orgs",
    key: "org_id",
    install: async (db) => {
      await db.client.query(`
        create table orgs (id int primary key);
        create table a (id int primary key, org_id int not null references orgs, b_id int, parent int references a);
        create table b (id int primary key, a_id int references a);
        alter table a add foreign key (b_id) references b;
        create table c (a_id int not null references a, note text)`);
    },
  },
];

describe("the catalog in parts", () => {
  for (const schema of SCHEMAS) {
    describe(schema.name, () => {
      let db: TestDatabase;

      beforeAll(async () => {
        db = await createTestDatabase("empty");
        await schema.install(db);
      });

      afterAll(async () => {
        await db?.drop();
      });

      it("answers exactly what the single released function answered", async () => {
        const files = await migrationFiles();
        expect(files).toContain(PARTS);
        const catalog = async () =>
          (
            await db.client.query("select public.tenant_backup_catalog($1, $2)::text as c", [
              schema.root,
              schema.key,
            ])
          ).rows[0].c as string;
        await applyMigrations(
          db.client,
          files.filter((name) => name < PARTS),
        );
        const before = await catalog();
        expect(await applyMigrations(db.client)).toContain(PARTS);
        const body = await db.client.query(
          "select count(*)::int as n from pg_proc where proname = 'tenant_backup_catalog_reach'",
        );
        expect(body.rows).toEqual([{ n: 1 }]);
        expect(await catalog()).toBe(before);
        expect(JSON.parse(before).tables.length).toBeGreaterThan(2);
      });
    });
  }
});
