/**
 * The local HTTP server: serves every Netlify function at /.netlify/functions/<name>, exactly the module
 * Netlify deploys (netlify/functions/<name>.ts), so local runs exercise the production code path.
 */
import { readdirSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { fileURLToPath } from "node:url";
import { sendResponse, toRequest } from "./http-adapter.ts";

const FUNCTIONS_DIR = fileURLToPath(new URL("../netlify/functions/", import.meta.url));

export function functionNames(): string[] {
  return readdirSync(FUNCTIONS_DIR)
    .filter((file) => file.endsWith(".ts"))
    .map((file) => file.slice(0, -3))
    .sort();
}

type FunctionModule = { default: (request: Request) => Promise<Response> };

export async function startServer(port: number, host = "127.0.0.1"): Promise<Server> {
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
      if (!fn) {
        res.writeHead(404, { "content-type": "application/json" });
        res.end(
          JSON.stringify({ success: false, error: { code: "not_found", message: "no such function" } }),
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
