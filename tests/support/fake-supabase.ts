/**
 * A Supabase project's API over a test database, for tests of the Supabase path: the fake PostgREST
 * (tests/db/fake-postgrest.ts: requests run as the key's role through `authenticator`) served by msw, the
 * project's keys, and the environment that points the engine at it (no DATABASE_URL, local storage).
 */
import { type SetupServer, setupServer } from "msw/node";
import { createFakePostgrest } from "../db/fake-postgrest.ts";
import { PROJECT_JWT_SECRET, projectKeys } from "../db/supabase-keys.ts";
import type { TestDatabase } from "./database.ts";

export interface FakeSupabase {
  fake: ReturnType<typeof createFakePostgrest>;
  server: SetupServer;
  keys: Awaited<ReturnType<typeof projectKeys>>;
  /** For createTestServices: the engine on the Supabase path, backups in local storage. */
  env: Record<string, string>;
  close(): Promise<void>;
}

export async function startFakeSupabase(
  db: TestDatabase,
  url: string,
  options: { poolSize?: number } = {},
): Promise<FakeSupabase> {
  const keys = await projectKeys();
  const fake = createFakePostgrest({
    url,
    apiKeys: [keys.anon, keys.serviceRole],
    jwtSecret: PROJECT_JWT_SECRET,
    databaseUrl: db.authenticatorUrl,
    poolSize: options.poolSize,
  });
  const server = setupServer(...fake.handlers);
  server.listen({ onUnhandledRequest: "error" });
  return {
    fake,
    server,
    keys,
    env: {
      DATABASE_URL: "",
      SUPABASE_URL: url,
      SUPABASE_SERVICE_ROLE_KEY: keys.serviceRole,
      BACKUP_STORAGE: "local",
    },
    async close() {
      server.close();
      await fake.close();
    },
  };
}
