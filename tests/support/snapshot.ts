/**
 * The exact content of tables: every row's text as PostgreSQL prints it, sorted, hashed per table. Equal
 * snapshots mean equal data to the byte, whatever the order rows are stored in.
 */
import type pg from "pg";

export async function snapshot(
  client: pg.ClientBase,
  tables: readonly string[],
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const table of tables) {
    const { rows } = await client.query(
      `select count(*)::text || ':' || coalesce(md5(string_agg(t::text, E'\\n' order by t::text)), '') as h from ${table} t`,
    );
    out[table] = rows[0].h;
  }
  return out;
}

/** The tables whose snapshots differ. */
export function changedTables(a: Record<string, string>, b: Record<string, string>): string[] {
  return Object.keys(a).filter((k) => a[k] !== b[k]);
}
