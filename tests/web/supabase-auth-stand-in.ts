/**
 * A stand-in for the two Supabase endpoints the deployed admin page calls from the browser, answering as
 * Supabase does (GoTrue's password grant and OTP, PostgREST's select with the user's own token), with
 * CORS as Supabase sends it. Its access tokens are HS256 with the project's legacy JWT secret, issuer
 * `<url>/auth/v1`, audience `authenticated` — what the functions verify on a legacy-secret project.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { decodeJwt, SignJWT } from "jose";
import type pg from "pg";

export interface StandInUser {
  id: string;
  email: string;
  password: string;
}

export async function startSupabaseAuthStandIn(users: StandInUser[], db: pg.Client) {
  const jwtSecret = randomBytes(32).toString("base64url");
  const otpRequests: { email: string; redirect: string | null }[] = [];
  let url = "";

  async function body(req: IncomingMessage): Promise<Record<string, unknown>> {
    let text = "";
    for await (const chunk of req) text += chunk;
    return text ? JSON.parse(text) : {};
  }

  function send(res: ServerResponse, status: number, payload: unknown, headers: Record<string, string> = {}) {
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(payload === undefined ? undefined : JSON.stringify(payload));
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    res.setHeader("access-control-allow-origin", "*");
    if (req.method === "OPTIONS") {
      res.writeHead(204, {
        "access-control-allow-methods": "GET, POST, PATCH, DELETE, OPTIONS",
        "access-control-allow-headers": req.headers["access-control-request-headers"] ?? "*",
        "access-control-max-age": "600",
      });
      res.end();
      return;
    }
    const target = new URL(req.url ?? "/", url);
    if (
      req.method === "POST" &&
      target.pathname === "/auth/v1/token" &&
      target.searchParams.get("grant_type") === "password"
    ) {
      const { email, password } = (await body(req)) as { email?: string; password?: string };
      const user = users.find((u) => u.email === email && u.password === password);
      if (!user) {
        send(res, 400, { code: 400, error_code: "invalid_credentials", msg: "Invalid login credentials" });
        return;
      }
      const now = Math.floor(Date.now() / 1000);
      const accessToken = await new SignJWT({ role: "authenticated", email: user.email, aal: "aal1" })
        .setProtectedHeader({ alg: "HS256", typ: "JWT" })
        .setIssuer(`${url}/auth/v1`)
        .setAudience("authenticated")
        .setSubject(user.id)
        .setIssuedAt(now)
        .setExpirationTime(now + 3600)
        .sign(new TextEncoder().encode(jwtSecret));
      send(res, 200, {
        access_token: accessToken,
        token_type: "bearer",
        expires_in: 3600,
        expires_at: now + 3600,
        refresh_token: randomBytes(12).toString("hex"),
        user: {
          id: user.id,
          aud: "authenticated",
          role: "authenticated",
          email: user.email,
          app_metadata: {},
          user_metadata: {},
        },
      });
      return;
    }
    if (req.method === "POST" && target.pathname === "/auth/v1/otp") {
      const payload = (await body(req)) as { email?: string };
      otpRequests.push({ email: String(payload.email), redirect: target.searchParams.get("redirect_to") });
      send(res, 200, {});
      return;
    }
    if (req.method === "POST" && target.pathname === "/auth/v1/logout") {
      send(res, 204, undefined);
      return;
    }
    // PostgREST under row level security: a user reads their own profile row and nothing else.
    if (req.method === "GET" && target.pathname === "/rest/v1/profiles") {
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
      const sub = token ? decodeJwt(token).sub : undefined;
      const wanted = target.searchParams.get("id")?.replace(/^eq\./, "");
      const { rows } =
        sub && wanted === sub
          ? await db.query("select organization_id::text from profiles where id = $1", [sub])
          : { rows: [] };
      send(res, 200, rows, { "content-range": `0-${rows.length - 1}/*` });
      return;
    }
    send(res, 404, { code: 404, msg: `no stand-in for ${req.method} ${target.pathname}` });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => send(res, 500, { msg: err.message }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    jwtSecret,
    otpRequests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
