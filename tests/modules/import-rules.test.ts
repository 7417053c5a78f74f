/**
 * A CSV import checked against the validation rules of its table, inside the import's own transaction,
 * on both database paths (a direct connection; rpc through PostgREST), against the restore-app schema
 * with a `format email` rule on contacts.email: a row of the file that breaks it is refused with its line
 * in the dry run and stops the real import (422, nothing changed); a row that broke it before the import
 * and that the file does not write does not stop it.
 */
import type { SetupServer } from "msw/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAppDatabase, workspaceSnapshot } from "../restore/app.ts";
import type { TestDatabase } from "../support/database.ts";
import { type FakeSupabase, startFakeSupabase } from "../support/fake-supabase.ts";
import { createTestServices, type TestServices } from "../support/services.ts";
import { importCsv, MODULE_ENV } from "./module-app.ts";

const PROJECT_URL = "https://import-rules-project.supabase.co";
const CONTACTS = { organization_id: "w1", module: "crm", table: "contacts" };
const RULE = "breaks the rule: contacts.email must be a valid email";

describe.each(["a direct connection", "rpc (PostgREST)"])(
  "a CSV import checked against the validation rules, over %s",
  (path) => {
    let db: TestDatabase;
    let services: TestServices;
    let server: SetupServer | undefined;
    let fake: FakeSupabase["fake"] | undefined;
    /** w1's contacts: one whose email already broke the rule before any import, and one that did not. */
    let alreadyBad: string;
    let good: string;

    beforeAll(async () => {
      db = await createAppDatabase();
      if (path === "a direct connection") {
        services = await createTestServices(db.url, MODULE_ENV);
      } else {
        const api = await startFakeSupabase(db, PROJECT_URL);
        ({ fake, server } = api);
        services = await createTestServices(db.url, {
          ...MODULE_ENV,
          ...api.env,
        });
      }
      const { rows } = await db.client.query(
        "select id::text from contacts where workspace_id = 'w1' order by id limit 2",
      );
      [alreadyBad, good] = rows.map((r) => r.id as string) as [string, string];
      await db.owner.query("update contacts set email = 'no address yet' where id = $1", [alreadyBad]);
      const stored = await services.db.addValidationRule({
        table: "contacts",
        column: "email",
        kind: "format",
        params: { format: "email" },
        enabled: true,
      });
      if (!("rule" in stored)) throw new Error(`rule refused: ${JSON.stringify(stored)}`);
    });

    afterAll(async () => {
      server?.close();
      await services?.cleanup();
      await fake?.close();
      await db?.drop();
    });

    async function emailOf(id: string): Promise<string> {
      return (await db.client.query("select email from contacts where id = $1", [id])).rows[0].email;
    }

    it("refuses a row of the file that breaks a rule, by line, in the dry run and the real import", async () => {
      const csv = [
        "id,first_name,last_name,email",
        `${good},Grace,Hopper,grace@example.com`,
        "900101,Bad,Address,bob at example",
        "900102,Fine,Row,fine@example.com",
        "",
      ].join("\n");
      const dry = await importCsv(services, CONTACTS, csv);
      expect(dry.status, JSON.stringify(dry.body)).toBe(200);
      expect(dry.body.success).toBe(false);
      expect(dry.body.errors).toEqual([{ line: 3, column: "email", message: RULE }]);
      expect(dry.body.summary).toMatchObject({ refused: 1, would_insert: 1, would_update: 1 });
      if (fake) {
        const call = fake.calls.findLast((c) => c.fn === "tenant_backup_module_import");
        expect(call?.args?.p_rules).toEqual([expect.objectContaining({ kind: "format", column: "email" })]);
      }

      const before = await workspaceSnapshot(db.client, "is not null");
      const real = await importCsv(services, { ...CONTACTS, dry_run: "false" }, csv);
      expect(real.status).toBe(422);
      expect(real.body.errors).toEqual([{ line: 3, column: "email", message: RULE }]);
      expect(real.body.undo_backup_id).toBeNull();
      expect(await workspaceSnapshot(db.client, "is not null")).toEqual(before);
      const { rows: logs } = await db.client.query(
        "select status, records_count, error_message from backup_logs where backup_type = 'module_import' and not dry_run order by id desc limit 1",
      );
      expect(logs[0]).toMatchObject({
        status: "failed",
        records_count: "0",
        error_message: "1 rows refused",
      });
    });

    it("is not stopped by a row that broke the rule before and that the file does not write", async () => {
      expect(await emailOf(alreadyBad)).toBe("no address yet");
      const csv = `id,first_name,last_name,email\n${good},Grace,Hopper,grace@example.com\n`;
      const dry = await importCsv(services, CONTACTS, csv);
      expect(dry.body).toMatchObject({ success: true, errors: [] });
      const real = await importCsv(services, { ...CONTACTS, dry_run: "false" }, csv);
      expect(real.status, JSON.stringify(real.body)).toBe(200);
      expect(real.body.summary).toMatchObject({ updated: 1, refused: 0 });
      expect(await emailOf(good)).toBe("grace@example.com");
      expect(await emailOf(alreadyBad)).toBe("no address yet");
    });

    it("refuses a row the file writes that already broke the rule, and names a row whose key the database makes", async () => {
      const csv = [
        "id,first_name,last_name,email",
        `${alreadyBad},Still,Bad,still no address`,
        ",New,Row,new row at example",
        "",
      ].join("\n");
      const dry = await importCsv(services, CONTACTS, csv);
      expect(dry.body.success).toBe(false);
      // The row the database keyed has no line of the file to name; it is named by its new key, first.
      expect(dry.body.errors).toEqual([
        {
          line: null,
          column: "email",
          message: expect.stringMatching(/^after the import, row \{"id": "\d+"\} /),
        },
        { line: 2, column: "email", message: RULE },
      ]);
      expect(dry.body.errors[0].message).toContain(RULE);
      expect(dry.body.summary).toMatchObject({ refused: 2 });
      const real = await importCsv(services, { ...CONTACTS, dry_run: "false" }, csv);
      expect(real.status).toBe(422);
      expect(await emailOf(alreadyBad)).toBe("no address yet");
      const { rows } = await db.client.query(
        "select count(*)::int as n from contacts where first_name = 'New'",
      );
      expect(rows[0].n).toBe(0);
    });
  },
);
