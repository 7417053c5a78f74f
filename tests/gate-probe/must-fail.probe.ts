/**
 * A test that must fail. It is not part of the suite (vitest picks `*.test.ts` only); `.ci/run` runs it on
 * purpose and fails unless `npm test` then exits non-zero, so that a green CI means the gate can fail.
 */
import { expect, inject, test } from "vitest";

test("gate probe: this assertion is false on purpose", () => {
  // The embedded PostgreSQL started for the run must not turn this failure into exit code 0.
  expect(inject("pgAdminUrl")).toMatch(/^postgres/);
  expect(1 + 1).toBe(3);
});
