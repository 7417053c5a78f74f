/**
 * What the page may learn from a deployment, and what nothing deployed can do. page-config answers the
 * Supabase project URL and anon key to anyone — and only those; the configuration refuses a secret key
 * in their place. Tokens are minted only by the local server (scripts/local-sign-in.ts): no function,
 * handler or engine module can sign one, and the site has no route to the local one.
 */
import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { parse as parseToml } from "smol-toml";
import { afterAll, describe, expect, it } from "vitest";
import { handlePageConfig } from "../../functions/page-config.ts";
import { ConfigError, loadConfig } from "../../lib/config.ts";
import { send } from "../support/call.ts";
import { createTestServices, type TestServices } from "../support/services.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const NO_DATABASE = "postgres://nobody@127.0.0.1:1/none";
const SERVICE_KEY = "service-role-key-0123456789";
const opened: TestServices[] = [];

afterAll(async () => {
  for (const services of opened) await services.cleanup();
});

async function pageConfig(env: Record<string, string>, method = "GET") {
  const services = await createTestServices(NO_DATABASE, { LOG_LEVEL: "silent", ...env });
  opened.push(services);
  return send(handlePageConfig, services, "page-config", { method });
}

/** A JWT-shaped key with these claims (unsigned: only the claims matter here). */
const jwtKey = (claims: object) =>
  ["eyJhbGciOiJIUzI1NiJ9", Buffer.from(JSON.stringify(claims)).toString("base64url"), "c2ln"].join(".");

describe("page-config", () => {
  it("answers the project URL and the anon key, without credentials, and nothing else", async () => {
    const anon = jwtKey({ role: "anon" });
    const answer = await pageConfig({
      SUPABASE_URL: "https://project.supabase.co",
      SUPABASE_SERVICE_ROLE_KEY: SERVICE_KEY,
      SUPABASE_ANON_KEY: anon,
      BACKUP_STORAGE: "local",
    });
    expect(answer.status).toBe(200);
    expect(answer.json()).toEqual({
      success: true,
      supabase_url: "https://project.supabase.co",
      supabase_anon_key: anon,
    });
    expect(answer.text()).not.toContain(SERVICE_KEY);
  });

  it("answers nulls where Supabase Auth is not configured", async () => {
    const answer = await pageConfig({});
    expect(answer.json()).toEqual({ success: true, supabase_url: null, supabase_anon_key: null });
  });

  it("is GET only", async () => {
    const answer = await pageConfig({}, "POST");
    expect(answer.status).toBe(405);
  });
});

describe("SUPABASE_ANON_KEY", () => {
  const base = {
    DATABASE_URL: NO_DATABASE,
    SUPABASE_URL: "https://project.supabase.co",
    SUPABASE_SERVICE_ROLE_KEY: SERVICE_KEY,
  };
  it.each([
    ["the service role key itself", SERVICE_KEY],
    ["a new-style secret key", "sb_secret_0123456789abcdef"],
    ["a legacy key whose role is service_role", jwtKey({ role: "service_role" })],
  ])("refuses %s", (_name, key) => {
    expect(() => loadConfig({ ...base, SUPABASE_ANON_KEY: key })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, SUPABASE_ANON_KEY: key })).toThrow(/^SUPABASE_ANON_KEY /);
  });

  it("takes a publishable or anon key", () => {
    for (const key of ["sb_publishable_0123456789abcdef", jwtKey({ role: "anon" })]) {
      expect(loadConfig({ ...base, SUPABASE_ANON_KEY: key }).page.supabaseAnonKey).toBe(key);
    }
  });
});

describe("nothing deployed can mint a token", () => {
  async function sources(dir: string): Promise<string[]> {
    const out: string[] = [];
    for (const entry of await readdir(join(ROOT, dir), { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) out.push(...(await sources(path)));
      else if (/\.(m?[jt]sx?)$/.test(entry.name)) out.push(path);
    }
    return out;
  }

  it("no function, handler or engine module signs tokens or reaches the local sign-in", async () => {
    const files = [
      ...(await sources("netlify/functions")),
      ...(await sources("functions")),
      ...(await sources("lib")),
    ];
    expect(files.length).toBeGreaterThan(20);
    for (const file of files) {
      const text = await readFile(join(ROOT, file), "utf8");
      expect(text, relative(ROOT, file)).not.toMatch(/SignJWT|CompactSign|local-sign-in|scripts\//);
    }
  });

  it("the site has no function or redirect for the local sign-in routes", async () => {
    const names = await readdir(join(ROOT, "netlify", "functions"));
    expect(names.filter((n) => /sign-?in|token|mint/i.test(n))).toEqual([]);
    const toml = parseToml(await readFile(join(ROOT, "netlify.toml"), "utf8")) as { redirects?: unknown };
    expect(JSON.stringify(toml.redirects ?? [])).not.toContain("sign-in");
  });

  it("while the local server's sign-in module does sign them", async () => {
    const text = await readFile(join(ROOT, "scripts", "local-sign-in.ts"), "utf8");
    expect(text).toContain("new SignJWT(");
  });
});
