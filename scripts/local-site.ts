/**
 * The local site as `npm start` runs it, and as the browser tests start it: the functions, the built
 * admin page at /, and — on the demo database only — the demo sign-in (scripts/local-sign-in.ts).
 * The services the functions use are built here from `env`, so a caller can start a site without
 * changing its own process environment.
 */
import type { Server } from "node:http";
import { setServices } from "../functions/runtime.ts";
import { loadConfig } from "../lib/config.ts";
import { createServices } from "../lib/services.ts";
import { buildWeb, PUBLIC_DIR, webBuildIsStale } from "./build-web.ts";
import { createLocalSignIn, type LocalSignIn } from "./local-sign-in.ts";
import { startServer } from "./server.ts";

export interface LocalSiteOptions {
  port: number;
  databaseUrl: string;
  /** The database holds the demo app that this server created: offer the demo users' sign-in. */
  demo: boolean;
  /** The environment the functions read (default process.env); DATABASE_URL is set from databaseUrl. */
  env?: Record<string, string | undefined>;
}

export interface LocalSite {
  /** The page's address. */
  url: string;
  server: Server;
  /** Whether the page offers the demo users' sign-in. */
  demoSignIn: boolean;
  close(): Promise<void>;
}

export async function startLocalSite(options: LocalSiteOptions): Promise<LocalSite> {
  const base = options.env ?? process.env;
  // A real Supabase project configured locally keeps its own sign-in; the demo users are for the demo.
  let signIn: LocalSignIn | undefined;
  if (options.demo && !base.SUPABASE_URL) {
    signIn = await createLocalSignIn(options.databaseUrl, `http://127.0.0.1:${options.port}`);
  }
  const env = { ...base, DATABASE_URL: options.databaseUrl, PORT: String(options.port), ...signIn?.env };
  const services = createServices(loadConfig(env));
  setServices(services);

  if (await webBuildIsStale()) await buildWeb();
  const server = await startServer(options.port, {
    publicDir: PUBLIC_DIR,
    localRoutes: signIn ? (req, res) => signIn.handle(req, res) : undefined,
  });
  return {
    url: `http://localhost:${options.port}/`,
    server,
    demoSignIn: signIn !== undefined,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      setServices(undefined);
      await services.close();
    },
  };
}
