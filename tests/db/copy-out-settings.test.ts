/**
 * The direct path's copyOut sets every setting the export's text depends on for its own transaction
 * (in one statement), and only there: the next call on the pool sees the session's defaults again.
 */
import { text as streamText } from "node:stream/consumers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresCaller } from "../../lib/db/postgres.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

let db: TestDatabase;
let caller: PostgresCaller;

beforeAll(async () => {
  db = await createTestDatabase("migrated");
  caller = new PostgresCaller(db.url, { max: 1 });
});

afterAll(async () => {
  await caller?.close();
  await db?.drop();
});

const SHOWN =
  "select concat_ws('|', current_setting('timezone'), current_setting('datestyle'), current_setting('intervalstyle'))";

describe("copyOut", () => {
  it("runs its query under every setting it is given, for that transaction only", async () => {
    const settings = { timezone: "Asia/Tokyo", datestyle: "SQL, DMY", intervalstyle: "iso_8601" };
    const text = await streamText(await caller.copyOut(SHOWN, settings));
    expect(text).toBe("Asia/Tokyo|SQL, DMY|iso_8601\n");

    const after = await streamText(await caller.copyOut(SHOWN, {}));
    expect(after).not.toContain("Asia/Tokyo");
    expect(after).not.toContain("iso_8601");
  });
});
