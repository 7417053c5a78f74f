/**
 * The local HTTP server: serves every Netlify function at /.netlify/functions/<name>, exactly the module
 * Netlify deploys (netlify/functions/<name>.ts), so local runs exercise the production code path; and,
 * like Netlify's publish folder, the built admin page at / when given `publicDir`.
 */
import { readdirSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { fileURLToPath } from "node:url";
import { sendResponse, toRequest } from "./http-adapter.ts";
import { serveStatic } from "./static-files.ts";

const FUNCTIONS_DIR = fileURLToPath(new URL("../netlify/functions/", import.meta.url));

export function functionNames(): string[] {
  return readdirSync(FUNCTIONS_DIR)
    .filter((file) => file.endsWith(".ts"))
    .map((file) => file.slice(0, -3))
    .sort();
}

type FunctionModule = { default: (request: Request) => Promise<Response> };

export interface ServerOptions {
  host?: string;
  /** Static files served at / (the built admin page). */
  publicDir?: string;
  /** Routes of the local server only (demo sign-in); answers true when it handled the request. */
  localRoutes?: (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;
}

export async function startServer(port: number, options: ServerOptions = {}): Promise<Server> {
  const host = options.host ?? "127.0.0.1";
  const modules = new Map<string, FunctionModule>();
  for (const name of functionNames()) {
    modules.set(
      name,
      (await import(new URL(`${name}.ts`, `file://${FUNCTIONS_DIR}`).href)) as FunctionModule,
    );
  }
  const server = createServer(async (req, res) => {
    const origin = `http://${req.headers.host ?? `${host}:${port}`}`;
    const match = /^\/\.netlify\/functions\/([a-z0-9-]+)\/?(?:\?|$)/.exec(req.url ?? "");
    const fn = match ? modules.get(match[1] as string) : undefined;
    try {
      if (!match) {
        if (await options.localRoutes?.(req, res)) return;
        if (options.publicDir && (await serveStatic(req, res, options.publicDir))) return;
      }
      if (!fn) {
        res.writeHead(404, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            success: false,
            error: { code: "not_found", message: match ? "no such function" : "not found" },
          }),
        );
        return;
      }
      await sendResponse(await fn.default(toRequest(req, origin)), res);
    } catch (err) {
      if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
      res.end(
        JSON.stringify({ success: false, error: { code: "internal", message: (err as Error).message } }),
      );
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, resolve);
  });
  return server;
}
