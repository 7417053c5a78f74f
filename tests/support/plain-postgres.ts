/**
 * A second, small PostgreSQL server for the tests that need plain PostgreSQL: no `anon`, `authenticated`
 * or `service_role` anywhere. Roles belong to a whole server and the shared test server has Supabase's
 * (roles.ts), so "without those roles" can only be shown on a server of its own, started by the test
 * file that needs it and stopped by it.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEmbeddedPostgres } from "../../scripts/embedded-postgres.ts";

export interface PlainPostgres {
  /** The superuser's URL of the server's `postgres` database. */
  url: string;
  stop(): Promise<void>;
}

export async function startPlainPostgres(): Promise<PlainPostgres> {
  const dir = await mkdtemp(join(tmpdir(), "tenant-backup-plain-"));
  const server = await startEmbeddedPostgres({ dataDir: join(dir, "pg"), fast: true });
  return {
    url: server.url,
    async stop() {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
