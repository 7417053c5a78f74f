import { DatabaseError } from "../../lib/db/port.ts";

/** The DatabaseError `promise` rejects with; anything else (or no rejection) fails the test. */
export async function databaseErrorOf(promise: Promise<unknown>): Promise<DatabaseError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof DatabaseError) return err;
    throw err;
  }
  throw new Error("expected a DatabaseError");
}
