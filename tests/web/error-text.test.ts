/**
 * How the page words the API's errors, from answers shaped as the functions send them (status, body,
 * Retry-After) through the client's own parsing: the sentence names the organization and says what to do.
 */
import { describe, expect, it } from "vitest";
import { apiErrorFrom } from "../../web/client/errors.ts";
import type { RestoreReport } from "../../web/client/types.ts";
import { describeError, droppedColumnNotes, leftOutTable } from "../../web/components/error-text.ts";

const answer = (status: number, error: object, headers: Record<string, string> = {}) =>
  apiErrorFrom(
    new Response(JSON.stringify({ success: false, error }), {
      status,
      headers: { "content-type": "application/json", ...headers },
    }),
  );

describe("errors as people read them", () => {
  it("401: sign in again", async () => {
    const text = describeError(
      await answer(401, { code: "unauthorized", message: "invalid token: expired" }),
    );
    expect(text.title).toMatch(/sign-in has expired/);
    expect(text.text).toMatch(/Sign in again/);
  });

  it("403: not an admin of the organization, by name", async () => {
    const error = await answer(403, {
      code: "forbidden",
      message: "not an admin of organization x",
      details: {},
    });
    expect(describeError(error, "Acme Gas Co").title).toBe("You are not an admin of Acme Gas Co.");
  });

  it("409 busy: what holds the organization and until when", async () => {
    const error = await answer(409, {
      code: "conflict",
      message: "tenant x is busy",
      details: { operation: "manual_backup", expires_at: "2026-12-01T10:02:00.000Z" },
    });
    const text = describeError(error, "Acme Gas Co");
    expect(text.title).toMatch(/^Acme Gas Co is busy: a manual backup is running until .*2026/);
  });

  it("429: the seconds from Retry-After", async () => {
    const error = await answer(
      429,
      { code: "rate_limited", message: "too soon", details: { retry_after: 17 } },
      { "retry-after": "42" },
    );
    expect(error.status).toBe(429);
    expect("retryAfter" in error && error.retryAfter).toBe(42);
  });

  it("422: which file is damaged", async () => {
    const error = await answer(422, {
      code: "unprocessable",
      message: "backup file x is damaged",
      details: { file: "tenant-backups/o/2026-12-01/b/customers.0000.jsonl.gz" },
    });
    const text = describeError(error);
    expect(text.title).toBe("This backup is damaged.");
    expect(text.text).toContain("customers.0000.jsonl.gz");
  });

  it("a body that is not the API's JSON is a transport error, not a crash", async () => {
    const error = await apiErrorFrom(new Response("<html>Bad gateway</html>", { status: 502 }));
    expect(describeError(error).title).toBe("The backup service cannot be reached.");
  });
});

describe("rows of tables left out of a restore", () => {
  const refusal = {
    sqlstate: "TB005",
    message:
      "12 rows of rentals (not being restored) reference customers through foreign key rentals_customer_id_fkey (on delete restrict); restore rentals too",
    table: "rentals",
    constraint: "rentals_customer_id_fkey",
  };

  it("explains the 409 of a real restore and names the table to add", async () => {
    const error = await answer(409, {
      code: "conflict",
      message: `restore failed, nothing was changed: ${refusal.message}`,
      details: { error: refusal },
    });
    expect(leftOutTable(error, undefined)).toEqual({
      table: "rentals",
      detail:
        "12 rows of rentals (not being restored) reference customers through foreign key rentals_customer_id_fkey (on delete restrict).",
    });
  });

  it("explains the same refusal found by a dry run", () => {
    const report = { success: false, summary: { errors: [refusal] } } as unknown as RestoreReport;
    expect(leftOutTable(null, report)?.table).toBe("rentals");
  });

  it("says nothing of other conflicts", async () => {
    const busy = await answer(409, { code: "conflict", message: "busy", details: { operation: "restore" } });
    expect(leftOutTable(busy, undefined)).toBeNull();
  });
});

describe("columns dropped since the backup", () => {
  it("picks the dry run's notes that a real restore would refuse without allow_dropped_columns", () => {
    const note =
      "customers: columns fax are in the backup but no longer in the table; their values are not restored";
    const report = {
      summary: { warnings: ["foreign key x on y(z) has no index: …", note] },
    } as unknown as RestoreReport;
    expect(droppedColumnNotes(report)).toEqual([note]);
    expect(droppedColumnNotes(undefined)).toEqual([]);
  });
});
