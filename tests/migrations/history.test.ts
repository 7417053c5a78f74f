/**
 * Migrations are applied once each and recorded, as `supabase db push` does (scripts/migrate.ts), so a
 * released file never changes and every installation reaches the same schema however it got there:
 * - an installation upgraded a release at a time equals a fresh one (catalog snapshot compared);
 * - a released file's text is pinned by its hash here;
 * - the record is the Supabase CLI's, and what either tool recorded the other skips;
 * - on a Supabase-like database, anon and authenticated reach nothing of ours after any run, and a file
 *   after the grants file restricts what it creates itself.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyMigrations, MIGRATIONS_DIR, migrationFiles } from "../../scripts/migrate.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { catalogSnapshot, clientPrivileges, inTransaction, supabaseLikeDatabase } from "./supabase-setup.ts";

/**
 * SHA-256 of every released migration file. A released file is never edited (an installation that applied
 * it would never see the edit): a change is a new file, added here once it is released.
 */
const RELEASED: Record<string, string> = {
  "20261122000001_tenant_backup_tables.sql":
    "be562eb9ce74aa6a2f4074fb0370e52cac88ff61bd8160b27dee79939f35af97",
  "20261122000002_tenant_backup_catalog.sql":
    "4d63d035e089cf603b03abc3a40e0e1083dab004eb55aea9fad2c7c2fc0d4442",
  "20261122000003_tenant_backup_export.sql":
    "97d040f43a98b7433c71f1e48f3cd2f0f4d7fb8dc8bffdd481aa0a756eae202d",
  "20261122000004_tenant_backup_state.sql":
    "10804f3c6625151445e6614a5e82915c9e14eddff285ce18458abbfebfcc3b71",
  "20261122000005_tenant_backup_storage_bucket.sql":
    "2738f44cb386fdc74126599778c1bece1d1e509ffff5862e52a772050e188f52",
  "20261122000006_tenant_backup_restore.sql":
    "d0adb3f656e0ed02cf30b1637cd2a110d14e6223abfddfbc8ee45c0c3a26bb09",
  "20261122000007_tenant_backup_operations.sql":
    "046e219a167e1a4dfe14cb65215771ad1b3c9479b84c8cc8e8a2013c6ee64c33",
  "20261122000099_tenant_backup_grants.sql":
    "5d31e60939697abcbedd64713c35168c4f3b83077b6082228d789a86b23636a7",
  "20261201000001_tenant_backup_apply_phases.sql":
    "ac67d01c45c326cc323022a9474b30ca0907122cdbf62ab07859790ca8c5f28c",
  "20261201000002_tenant_backup_statement_timeouts.sql":
    "2a898ec950c656ad1064bc28b038deb27df35372dc9d6cd46104af574a14f69b",
  "20261201000003_tenant_backup_catalog_parts.sql":
    "02f2e0b60cfa2d635d17b139a5319e9a63b8b5c2ef5564a6fab12680eb41a46f",
  "20261201000020_tenant_backup_tenant_key.sql":
    "bc1fd86b281d7b6ff527c0dce965d93a1d047a529eb594aaa76a3a320fd5d110",
  "20261201000030_tenant_backup_stage_progress.sql":
    "82fa5b1f261f50355a64e88ad012a63a9b6dc2f64a7e04f11d6814ae7b0e3ff3",
  "20261201000050_tenant_backup_apply_live.sql":
    "96af33d7eb7d969443e49872b8146b147ae8058f884470396d40f94368ccce83",
  "20261201000060_tenant_backup_snapshot.sql":
    "de823ba721354a53753cc0735bbe92b96752cd4030fc903c203535d30b3d4d66",
  "20261201000070_tenant_backup_schedules.sql":
    "a3e547a4d199e27a560ef1bffa2eb514c0062ecc6a31badad51b037867b17c96",
  "20261201000080_tenant_backup_alerts.sql":
    "b638689e927945ec40000804943bec75ea1a13d7d8f4110ba9d16fbeffe2e53e",
  "20261202000100_tenant_backup_created_by.sql":
    "c17e98039ea403864f7023e7bb879e477b705c2e3cff72fb69ce2ee9bfc9284a",
  "20261202000110_tenant_backup_verifications.sql":
    "169b9ae3648b2cdacad0e7193f48f3964b259b5aad66a2adb09fc65bf42bb223",
  "20261202000120_tenant_backup_recent_sizes.sql":
    "9f5bf97430e541ded24bd15230ad698293b283cd27d2883f5232c2ebee7a4901",
  "20261202000200_tenant_backup_validation.sql":
    "cd8036b163dd744849dc91a9003ae9e0c4b86a93a2d69f636940b4af5fde6de1",
  "20261202000300_tenant_backup_modules.sql":
    "d579d60e76bb8869cec9ecb639f17dd3f8b39e3130bc4fb2b5e7add69671e0be",
  "20261202000390_tenant_backup_module_import_rules.sql":
    "e9bd9069dcc4da89f96d786092c02822975cd8a140bf9025bf5c530aee89cdf9",
  "20261202000500_tenant_backup_running_runs.sql":
    "5285d4c881174f1b3ece673614ff0a066f6e876af2848660ea9fd443f9e88959",
  "20261202000600_tenant_backup_undo_pages_by_bytes.sql":
    "9cf71b0653f3ab95c652f10e99879bf3ae20c630fb3560d3db2f4026f7b5e535",
  "20261202000800_tenant_backup_work_items.sql":
    "a7d325b5479bc5482777a987c239ffb76549a9f4a68ac38a9409f3d9195d576e",
  "20261203000100_tenant_backup_apply_by_hash.sql":
    "636693343baae5a65a85e644d27883dbbcaf4fe69344b136e68ffd18fefd8e8f",
  "20261203000200_tenant_backup_export_columns.sql":
    "05bcfd2a567f8f7dcae0440be89decada776933bdc4b7f238361733ee1af705f",
  "20261203000300_tenant_backup_pages_by_bytes.sql":
    "4dc4354e67cb75a285a56638a8cc392466a7bf0d14470e5d189872b7a7d88917",
  "20261204000200_tenant_backup_many_tables.sql":
    "022f05f4d39468d81cd83418ebb0d2cba7b45ba21630d17bb1be05c75c41dfeb",
  "20261204000300_tenant_backup_typed_stage.sql":
    "03da880e466e70c5140ea45bdcbd84ab2759fbc9eaadfd6e8e081de837288e02",
  "20261205000100_tenant_backup_unkeyed_kept.sql":
    "70ac85e72809274c7f0968864e4e0bd46556eb506fa4282d06fd9b16572c3714",
  "20261205000200_tenant_backup_work_add_unlocked.sql":
    "000c63482833ddb44961014c7c69d82e7d03a10734acf7f1db3e8f5f46431657",
  "20261206000100_tenant_backup_analyze_stale.sql":
    "a9cb31d4a9e0c50d23f71dcc682b0a8a668d4ba6db5609d1ed9c032de35add39",
  "20261207000100_tenant_backup_undo_pages_read.sql":
    "6d09f6c2833edded54be7ff68d2d4676bb7a6ddfcb96ab87b8d5ce66f7305385",
  "20261207000200_tenant_backup_undo_pages_at_export.sql":
    "c3c5f61aa8be44ccbc61be8ea0bf7ef0f0395ec255d1baa5ee2fb9d0676292a9",
  "20261208000100_tenant_backup_run_save.sql":
    "dec9af52498d007b9059c669fa990149127d1382f2607baa92180a4bb2330848",
  "20261208000200_tenant_backup_daily_lease.sql":
    "9a45df27a1ef33615d301378eec2ff79b0cd53e255dc665bc3cd5ecf7ecae3cb",
  "20261209000100_tenant_backup_analyze_waits.sql":
    "7bd00001780625601c6b9c288c1c152daf8dd26d05fbc79a8ddc7ac375e997bd",
  "20261210000100_tenant_backup_analyze_key_columns.sql":
    "882eb006fec0d8d63ebfd6fe05c32b7b6499b3db28281bb33ee720162524886c",
  "20261211000100_tenant_backup_typed_stage_uncompressed.sql":
    "087a95822b87f1cfbffc7ae6ed966f357880d8549885cd3f0f4e1321d4e8ebd5",
  "20261212000100_tenant_backup_changed_rows_parsed_once.sql":
    "6dee606e4ab146d7ad424a7a817ba5ee8a8383835b3c8af35f772d414ac342d0",
};

/** The first release: every file up to its grants file; later files restrict what they create themselves. */
const FIRST_RELEASE = (files: string[]) => files.filter((name) => name.startsWith("20261122"));

const sha256 = async (file: string) =>
  createHash("sha256")
    .update(await readFile(join(MIGRATIONS_DIR, file)))
    .digest("hex");

describe("released migration files", () => {
  it("keep the content they were released with", async () => {
    const files = await migrationFiles();
    for (const [file, hash] of Object.entries(RELEASED)) {
      expect(files, file).toContain(file);
      expect(await sha256(file), `${file} changed after its release: add a new file instead`).toBe(hash);
    }
  });

  it("are followed, never preceded, by files not yet released", async () => {
    const files = await migrationFiles();
    const newest = Object.keys(RELEASED).sort().at(-1) as string;
    // `supabase db push` refuses a file older than the newest applied one: a new file goes last.
    expect(files.filter((name) => !(name in RELEASED) && name < newest)).toEqual([]);
  });
});

describe("the migration history", () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase("empty");
  });

  afterAll(async () => {
    await db?.drop();
  });

  it("records each file as the Supabase CLI does, and a second run applies nothing", async () => {
    const files = await migrationFiles();
    // As the owner that plays Supabase's `postgres`, which `supabase db push` connects as.
    expect(await applyMigrations(db.owner)).toEqual(files);
    const { rows } = await db.client.query(
      "select version, name, statements from supabase_migrations.schema_migrations order by version",
    );
    expect(rows.map((r) => `${r.version}_${r.name}.sql`)).toEqual(files);
    expect(rows[0].statements).toEqual([await readFile(join(MIGRATIONS_DIR, files[0] as string), "utf8")]);
    expect(await applyMigrations(db.owner)).toEqual([]);
  });

  it("skips a file the Supabase CLI recorded, and the CLI's table, with its own columns, works as is", async () => {
    const other = await createTestDatabase("empty");
    try {
      const files = await migrationFiles();
      const last = files.at(-1) as string;
      // The CLI's table as `supabase db push` leaves it: more columns, and statements split one per entry.
      await other.owner.query(`
        create schema supabase_migrations;
        create table supabase_migrations.schema_migrations (
          version text not null primary key, statements text[], name text, created_by text, idempotency_key text unique);
        insert into supabase_migrations.schema_migrations (version, statements, name)
        values ('${last.slice(0, 14)}', array['select 1', 'select 2'], '${last.slice(15, -4)}')`);
      expect(await applyMigrations(other.owner)).toEqual(files.slice(0, -1));
      const count = await other.client.query(
        "select count(*)::int as n from supabase_migrations.schema_migrations",
      );
      expect(count.rows).toEqual([{ n: files.length }]);
    } finally {
      await other.drop();
    }
  });

  it("applies each file once when two runs start together", async () => {
    const other = await createTestDatabase("empty");
    const second = new pg.Client({ connectionString: other.url });
    await second.connect();
    try {
      const [a, b] = await Promise.all([applyMigrations(other.owner), applyMigrations(second)]);
      expect([...a, ...b].sort()).toEqual(await migrationFiles());
    } finally {
      await second.end();
      await other.drop();
    }
  });
});

describe("on a Supabase-like database", () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await supabaseLikeDatabase();
  });

  afterAll(async () => {
    await db?.drop();
  });

  /**
   * Runs `install` as the owner from the database as set up above, in a transaction: answers its snapshot
   * and history, then undoes it.
   */
  async function installed(install: (client: pg.ClientBase) => Promise<void>) {
    await db.owner.query("begin");
    try {
      await install(inTransaction(db.owner));
      const history = await db.owner.query(
        "select version, name from supabase_migrations.schema_migrations order by version",
      );
      return { snapshot: await catalogSnapshot(db.owner), history: history.rows };
    } finally {
      await db.owner.query("rollback");
    }
  }

  it("an installation upgraded a release at a time equals a fresh installation of everything", async () => {
    const files = await migrationFiles();
    const fresh = await installed(async (client) => {
      await applyMigrations(client);
    });
    expect(fresh.history).toHaveLength(files.length);
    expect(fresh.snapshot.some((line) => line.startsWith("function tenant_backup_apply_rows("))).toBe(true);

    const upgraded = await installed(async (client) => {
      expect(await applyMigrations(client, FIRST_RELEASE(files))).toHaveLength(8);
      for (const file of files.slice(8)) expect(await applyMigrations(client, [file])).toEqual([file]);
    });
    expect(upgraded).toEqual(fresh);

    // Installed by the runner that re-applied every file and recorded none: the first recorded run applies
    // everything again, released files included, and reaches the same place.
    const unrecorded = await installed(async (client) => {
      await applyMigrations(client, FIRST_RELEASE(files));
      await client.query("drop schema supabase_migrations cascade");
      expect(await applyMigrations(client)).toEqual(files);
    });
    expect(unrecorded).toEqual(fresh);
  });

  it("leaves anon and authenticated nothing of ours after every run, each later file run on its own", async () => {
    const files = await migrationFiles();
    // As the owner, in a transaction undone at the end.
    await db.owner.query("begin");
    try {
      // The check can see a grant: a function of ours created with nothing revoked is reachable.
      await db.owner.query(
        "create function public.tenant_backup_probe() returns int language sql as 'select 1'",
      );
      expect(await clientPrivileges(db.owner)).toEqual([
        "PUBLIC EXECUTE function tenant_backup_probe()",
        "anon EXECUTE function tenant_backup_probe()",
        "authenticated EXECUTE function tenant_backup_probe()",
      ]);
      await db.owner.query("drop function public.tenant_backup_probe()");

      // The first release is one run (one transaction): its grants file closes what its other files open.
      await applyMigrations(inTransaction(db.owner), FIRST_RELEASE(files));
      expect(await clientPrivileges(db.owner)).toEqual([]);
      for (const file of files.slice(8)) {
        expect(await applyMigrations(inTransaction(db.owner), [file])).toEqual([file]);
        expect(await clientPrivileges(db.owner), `after ${file}`).toEqual([]);
      }
    } finally {
      await db.owner.query("rollback");
    }
  });
});
