/**
 * What the bench's operations count (scripts/bench/operation.ts, countCalls): calls by kind, and under
 * STATEMENTS the database's round trips themselves, every statement sent on a connection.
 */
export const STATEMENTS = "statements";

/** The statements counted, and the calls by kind apart from them. */
export function splitCounts(counts: Record<string, number>): {
  statements: number;
  kinds: Record<string, number>;
} {
  const { [STATEMENTS]: statements = 0, ...kinds } = counts;
  return { statements, kinds };
}
