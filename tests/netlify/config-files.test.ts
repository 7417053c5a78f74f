/**
 * The deployment files parse and say what the setup guide says: netlify.toml builds netlify/functions with
 * esbuild on Node 22 and the admin page with `npm run build` into the published folder, and the GitHub workflow calls daily-tenant-backup with the repository secrets, keeps
 * calling while the answer is 202, fails on anything else and never prints the secret. The workflow's
 * script is run for real with bash and curl against a local server.
 */
import { execFile } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { parse as parseToml } from "smol-toml";
import { afterEach, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { buildWeb, PUBLIC_DIR } from "../../scripts/build-web.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const read = (path: string) => readFileSync(join(ROOT, path), "utf8");

describe("netlify.toml", () => {
  // biome-ignore lint/suspicious/noExplicitAny: parsed TOML is checked field by field below
  const toml = parseToml(read("netlify.toml")) as any;

  it("builds the functions in netlify/functions with esbuild on Node 22", () => {
    expect(toml.functions.directory).toBe("netlify/functions");
    expect(toml.functions.node_bundler).toBe("esbuild");
    expect(toml.build.environment.NODE_VERSION).toBe("22");
    expect(statSync(join(ROOT, toml.functions.directory)).isDirectory()).toBe(true);
  });

  it("publishes the folder the page is built into, never the repository itself", async () => {
    const publish: string = toml.build.publish;
    expect(["", ".", "./", "/"]).not.toContain(publish);
    expect(toml.functions.directory.startsWith(publish)).toBe(false);
    expect(toml.build.command).toBe("npm run build");
    expect(JSON.parse(read("package.json")).scripts.build).toBe("tsx scripts/build-web.ts");
    expect(join(ROOT, publish)).toBe(PUBLIC_DIR);
  });

  it("its build makes a page that loads nothing from another site", async () => {
    const out = await mkdtemp(join(tmpdir(), "tenant-backup-site-"));
    try {
      await buildWeb(out);
      const html = readFileSync(join(out, "index.html"), "utf8");
      expect(html).toContain('src="/assets/app.js"');
      expect(html).toContain('href="/assets/app.css"');
      expect(existsSync(join(out, "assets", "app.js"))).toBe(true);
      expect(existsSync(join(out, "assets", "app.css"))).toBe(true);
      // Absolute URLs in the markup would be loads from elsewhere; the bundle has none to script or style.
      expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
      const css = readFileSync(join(out, "assets", "app.css"), "utf8");
      expect(css).not.toMatch(/@import|url\(\s*["']?(https?:)?\/\//);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });

  it("has a [dev] section for `netlify dev` on the local server's port, serving the same folder", () => {
    expect(toml.dev.port).toBe(8888);
    expect(toml.dev.publish).toBe(toml.build.publish);
  });

  it("holds no secrets: function variables are set in Netlify, not in a committed file", () => {
    const environment = JSON.stringify(toml.build.environment);
    for (const name of ["CRON_SECRET", "SUPABASE_SERVICE_ROLE_KEY", "DATABASE_URL", "SUPABASE_URL"]) {
      expect(environment).not.toContain(name);
    }
    expect(toml.context).toBeUndefined();
  });
});

describe(".github/workflows/daily-tenant-backup.yml", () => {
  const text = read(".github/workflows/daily-tenant-backup.yml");
  // biome-ignore lint/suspicious/noExplicitAny: parsed YAML is checked field by field below
  const workflow = parseYaml(text) as any;
  const step = workflow.jobs.backup.steps[0];

  it("runs every hour (each tenant is backed up at its own time) and by hand", () => {
    const cron: string = workflow.on.schedule[0].cron;
    expect(cron.split(/\s+/)).toHaveLength(5);
    expect(cron).toMatch(/^\d+ \* \* \* \*$/);
    expect(workflow.on).toHaveProperty("workflow_dispatch");
  });

  it("takes the URL and the secret from repository secrets, never from literal values", () => {
    // GitHub's expression syntax, not a JavaScript template.
    const secret = (name: string) => ["$", "{{ secrets.", name, " }}"].join("");
    expect(step.env.BACKUP_URL).toBe(secret("BACKUP_URL"));
    expect(step.env.CRON_SECRET).toBe(secret("CRON_SECRET"));
    expect(step.run).toContain("/.netlify/functions/daily-tenant-backup");
    expect(step.run).not.toMatch(/set -x|secret=/);
    // The only Bearer value is the variable.
    expect(step.run.match(/Bearer [^\s'"]+/g)).toEqual(["Bearer %s\\n"]);
  });

  describe("its script", () => {
    const SECRET = "workflow-test-secret-0123456789";
    let server: Server | undefined;
    afterEach(() => server?.close());

    /** A fake site answering each call with the next status; records what it was sent. */
    async function site(statuses: number[]) {
      const calls: Array<{ method?: string; url?: string; authorization?: string; body: string }> = [];
      server = createServer(async (req: IncomingMessage, res) => {
        let body = "";
        for await (const chunk of req) body += chunk;
        calls.push({ method: req.method, url: req.url, authorization: req.headers.authorization, body });
        const status = statuses[Math.min(calls.length - 1, statuses.length - 1)] as number;
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify({ success: status < 300, message: `answer ${calls.length}` }));
      });
      await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
      const { port } = server.address() as AddressInfo;
      return { url: `http://127.0.0.1:${port}`, calls };
    }

    async function runScript(url: string, maxCalls = 5) {
      const env = {
        PATH: process.env.PATH,
        BACKUP_URL: url,
        CRON_SECRET: SECRET,
        MAX_CALLS: String(maxCalls),
        PAUSE_SECONDS: "0",
      };
      try {
        const { stdout, stderr } = await promisify(execFile)("bash", ["-c", step.run], { env });
        return { code: 0, output: stdout + stderr };
      } catch (err) {
        const e = err as { code: number; stdout: string; stderr: string };
        return { code: e.code, output: e.stdout + e.stderr };
      }
    }

    it("calls again while the answer is 202 and succeeds on 200", async () => {
      const fake = await site([202, 202, 200]);
      const result = await runScript(`${fake.url}/`);
      expect(result.code).toBe(0);
      expect(fake.calls).toHaveLength(3);
      for (const call of fake.calls) {
        expect(call.method).toBe("POST");
        expect(call.url).toBe("/.netlify/functions/daily-tenant-backup");
        expect(call.authorization).toBe(`Bearer ${SECRET}`);
        expect(call.body).toBe("{}");
      }
      expect(result.output).toContain("answer 3");
      expect(result.output).not.toContain(SECRET);
    });

    it.each([401, 500, 404])("fails on HTTP %i and prints the answer", async (status) => {
      const fake = await site([status]);
      const result = await runScript(fake.url);
      expect(result.code).not.toBe(0);
      expect(fake.calls).toHaveLength(1);
      expect(result.output).toContain(`HTTP ${status}`);
      expect(result.output).toContain("answer 1");
      expect(result.output).not.toContain(SECRET);
    });

    it("gives up after MAX_CALLS answers of 202", async () => {
      const fake = await site([202]);
      const result = await runScript(fake.url, 3);
      expect(result.code).not.toBe(0);
      expect(fake.calls).toHaveLength(3);
      expect(result.output).toContain("still incomplete after 3 calls");
    });

    it("fails clearly when the secrets are not set", async () => {
      const result = await runScript("");
      expect(result.code).not.toBe(0);
      expect(result.output).toContain("Set the repository secrets BACKUP_URL and CRON_SECRET");
    });
  });
});

describe(".github/workflows/verify-backups.yml", () => {
  const text = read(".github/workflows/verify-backups.yml");
  // biome-ignore lint/suspicious/noExplicitAny: parsed YAML is checked field by field below
  const workflow = parseYaml(text) as any;
  const step = workflow.jobs.verify.steps[0];
  const SECRET = "workflow-test-secret-9876543210";
  let server: Server | undefined;
  afterEach(() => server?.close());

  it("runs once a day (every tenant is drilled within the week) and by hand, with the secrets", () => {
    expect(workflow.on.schedule[0].cron).toMatch(/^\d+ \d+ \* \* \*$/);
    expect(workflow.on).toHaveProperty("workflow_dispatch");
    const secret = (name: string) => ["$", "{{ secrets.", name, " }}"].join("");
    expect(step.env.BACKUP_URL).toBe(secret("BACKUP_URL"));
    expect(step.env.CRON_SECRET).toBe(secret("CRON_SECRET"));
    expect(step.run.match(/Bearer [^\s'"]+/g)).toEqual(["Bearer %s\\n"]);
  });

  it("POSTs to verify-backups while the answer is 202, and fails on a failed drill's 500", async () => {
    const statuses = [202, 200, 500];
    const calls: Array<{ url?: string; authorization?: string }> = [];
    server = createServer((req: IncomingMessage, res) => {
      calls.push({ url: req.url, authorization: req.headers.authorization });
      const status = statuses[calls.length - 1] ?? 500;
      res.writeHead(status, { "content-type": "application/json" }).end(`{"answer":${calls.length}}`);
    });
    await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const env = {
      PATH: process.env.PATH,
      BACKUP_URL: `http://127.0.0.1:${port}`,
      CRON_SECRET: SECRET,
      MAX_CALLS: "5",
      PAUSE_SECONDS: "0",
    };
    const run = () =>
      promisify(execFile)("bash", ["-c", step.run], { env }).then(
        (r) => ({ code: 0, output: r.stdout + r.stderr }),
        (e: { code: number; stdout: string; stderr: string }) => ({
          code: e.code,
          output: e.stdout + e.stderr,
        }),
      );
    const passed = await run();
    expect(passed.code).toBe(0);
    expect(calls).toEqual([
      { url: "/.netlify/functions/verify-backups", authorization: `Bearer ${SECRET}` },
      { url: "/.netlify/functions/verify-backups", authorization: `Bearer ${SECRET}` },
    ]);
    const failed = await run();
    expect(failed.code).not.toBe(0);
    expect(failed.output).toContain("verify-backups answered HTTP 500");
    expect(failed.output).not.toContain(SECRET);
  });
});
