/**
 * Demo sign-in for `npm start` with the embedded demo database, where there is no Supabase Auth: the
 * local server stands in for it. It signs HS256 access tokens shaped like Supabase's (issuer
 * `<SUPABASE_URL>/auth/v1`, audience `authenticated`, `sub` a demo user) with a secret it makes up at
 * start and keeps in memory, and the functions verify them with that secret as SUPABASE_JWT_SECRET,
 * exactly as they verify a legacy Supabase project's tokens. Roles are read from the database as always.
 *
 * This file lives in scripts/ and is reached only through the local server: nothing deployed
 * (netlify/functions, functions/, lib/) can mint a token.
 */
import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { SignJWT } from "jose";
import pg from "pg";
import type { DemoTokenAnswer, DemoUser, DemoUsersAnswer } from "../web/page/demo-sign-in.ts";

/** The demo's platform operator: a user of no organization whose role reaches every one. */
export const DEMO_SUPER_ADMIN_ID = "00000000-0000-4000-8000-00000000a001";
export const SUPER_ADMIN_ROLE = "super_admin";
/** Roles as the functions read them locally: every profile of the demo app, plus the operator. */
export const ROLES_VIEW = "local_sign_in_roles";
const TOKEN_SECONDS = 3600;

export interface LocalSignIn {
  /** Environment for the functions: who issues tokens, the secret that verifies them, where roles are. */
  env: Record<string, string>;
  /** Answers /local-sign-in/*; false for any other path. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
}

/**
 * Sets the demo database up for sign-in (the roles view) and returns the routes and the settings.
 * `issuer` is the local server's own address: tokens name it as their Supabase project.
 */
export async function createLocalSignIn(databaseUrl: string, issuerUrl: string): Promise<LocalSignIn> {
  const secret = randomBytes(32).toString("base64url");
  const key = new TextEncoder().encode(secret);
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(
      `create or replace view public.${ROLES_VIEW} as
         select id::text as id, role, organization_id::text as organization_id from public.profiles
         union all select '${DEMO_SUPER_ADMIN_ID}', '${SUPER_ADMIN_ROLE}', null`,
    );
  } finally {
    await client.end();
  }

  async function users(): Promise<DemoUser[]> {
    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    try {
      // One admin per organization and one plain member, the first of each by id: stable across runs.
      const { rows } = await db.query<Omit<DemoUser, "label">>(
        `select * from (
           select distinct on (p.organization_id, p.role) p.id::text, p.email, p.role,
                  p.organization_id::text, o.name as organization_name
           from public.profiles p join public.organizations o on o.id = p.organization_id
           where p.role in ('admin', 'member')
           order by p.organization_id, p.role, p.id) u
         where u.role = 'admin' or u.organization_id = (select id::text from public.organizations order by id limit 1)
         order by u.role, u.organization_name`,
      );
      const people = rows.map((u) => ({
        ...u,
        label:
          u.role === "admin"
            ? `Admin of ${u.organization_name}`
            : `Member (not admin) of ${u.organization_name}`,
      }));
      return [
        ...people,
        {
          id: DEMO_SUPER_ADMIN_ID,
          email: "operator@platform.example",
          role: SUPER_ADMIN_ROLE,
          organization_id: null,
          organization_name: null,
          label: "Super admin (every organization)",
        },
      ];
    } finally {
      await db.end();
    }
  }

  const issuer = `${issuerUrl.replace(/\/+$/, "")}/auth/v1`;
  async function mint(user: DemoUser): Promise<string> {
    return new SignJWT({ role: "authenticated", email: user.email })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject(user.id)
      .setIssuer(issuer)
      .setAudience("authenticated")
      .setIssuedAt()
      .setExpirationTime(`${TOKEN_SECONDS}s`)
      .sign(key);
  }

  return {
    env: {
      SUPABASE_URL: issuerUrl,
      SUPABASE_JWT_SECRET: secret,
      // Required beside SUPABASE_URL; never used: the database is DATABASE_URL, files stay local.
      SUPABASE_SERVICE_ROLE_KEY: "local-demo-has-no-service-role-key",
      BACKUP_STORAGE: "local",
      ADMIN_PROFILE_TABLE: ROLES_VIEW,
      SUPER_ADMIN_ROLES: SUPER_ADMIN_ROLE,
    },
    async handle(req, res) {
      const path = new URL(req.url ?? "/", "http://local").pathname;
      if (path === "/local-sign-in/users" && req.method === "GET") {
        send(res, 200, { users: await users() } satisfies DemoUsersAnswer);
        return true;
      }
      if (path === "/local-sign-in/token" && req.method === "POST") {
        let body = "";
        for await (const chunk of req) {
          body += chunk;
          if (body.length > 1024) break;
        }
        let userId: unknown;
        try {
          userId = (JSON.parse(body) as { user_id?: unknown }).user_id;
        } catch {
          userId = undefined;
        }
        // Only the demo users offered: an arbitrary `sub` would let anyone be anyone.
        const user = (await users()).find((u) => u.id === userId);
        if (!user) {
          send(res, 400, {
            success: false,
            error: { code: "bad_request", message: "user_id: not a demo user" },
          });
          return true;
        }
        send(res, 200, {
          access_token: await mint(user),
          token_type: "bearer",
          expires_in: TOKEN_SECONDS,
          user,
        } satisfies DemoTokenAnswer);
        return true;
      }
      return false;
    },
  };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
  res.end(JSON.stringify(body));
}
