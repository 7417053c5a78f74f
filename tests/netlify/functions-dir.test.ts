/**
 * What Netlify deploys: every file in netlify/functions/ is a thin entry that default-exports a function
 * and imports only the handlers (functions/) and the engine (lib/), never scripts/ (the local server,
 * embedded PostgreSQL, demo data, migrations read from disk). Each entry is bundled the way Netlify's
 * esbuild bundler does (ESM, Node 22, the same require shim) and the bundle is loaded and called from a
 * folder of its own: nothing it needs is read from the repository at run time.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import { build, type Metafile } from "esbuild";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");
const FUNCTIONS_DIR = join(ROOT, "netlify", "functions");
const entries = (await readdir(FUNCTIONS_DIR)).filter((f) => /\.(m?ts|m?js)$/.test(f)).sort();

/** The banner Netlify's bundler puts on ESM functions, so that bundled CommonJS can require built-ins. */
const NETLIFY_ESM_BANNER = [
  'import {createRequire as ___nfyCreateRequire} from "module";',
  'import {fileURLToPath as ___nfyFileURLToPath} from "url";',
  'import {dirname as ___nfyPathDirname} from "path";',
  "let __filename=___nfyFileURLToPath(import.meta.url);",
  "let __dirname=___nfyPathDirname(___nfyFileURLToPath(import.meta.url));",
  "let require=___nfyCreateRequire(import.meta.url);",
].join("\n");

/** The only module of ours that touches the file system: the local storage backend (BACKUP_DIR). */
const MAY_USE_FS = new Set(["lib/storage/local.ts"]);
const FS_MODULES = new Set(["fs", "fs/promises", "node:fs", "node:fs/promises"]);

it("has the functions the setup guide names", () => {
  const names = entries.map((f) => f.replace(/\.[^.]+$/, ""));
  for (const name of [
    "daily-tenant-backup",
    "daily-tenant-backup-background",
    "scheduled-daily-backup",
    "backup-tenant-data",
    "restore-tenant-data",
    "list-backups",
  ]) {
    expect(names).toContain(name);
  }
  for (const name of names) expect(name).toMatch(/^[a-z0-9-]+$/);
});

describe.each(entries)("netlify/functions/%s", (file) => {
  const path = join(FUNCTIONS_DIR, file);

  it("default-exports a function", async () => {
    const module = await import(pathToFileURL(path).href);
    expect(typeof module.default).toBe("function");
  });

  it("imports only from functions/, lib/ and @netlify/functions", async () => {
    const source = await readFile(path, "utf8");
    const specifiers = [...source.matchAll(/(?:from|import)\s*\(?\s*["']([^"']+)["']/g)].map((m) => m[1]);
    expect(specifiers.length).toBeGreaterThan(0);
    for (const specifier of specifiers) {
      expect(specifier).toMatch(/^(\.\.\/\.\.\/(functions|lib)\/[\w./-]+\.ts|@netlify\/functions)$/);
    }
    expect(source).not.toMatch(/readFile|readdir|process\.cwd|__dirname|import\.meta\.url/);
  });
});

describe("the bundles Netlify builds", () => {
  let outDir: string;
  beforeAll(async () => {
    outDir = await mkdtemp(join(tmpdir(), "tenant-backup-bundles-"));
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await rm(outDir, { recursive: true, force: true });
  });

  const bundles = new Map<string, Promise<{ path: string; metafile: Metafile }>>();
  const bundle = (file: string) => {
    let pending = bundles.get(file);
    if (!pending) {
      pending = bundleOnce(file);
      bundles.set(file, pending);
    }
    return pending;
  };

  async function bundleOnce(file: string): Promise<{ path: string; metafile: Metafile }> {
    const result = await build({
      entryPoints: [join(FUNCTIONS_DIR, file)],
      absWorkingDir: ROOT,
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node22",
      banner: { js: NETLIFY_ESM_BANNER },
      write: false,
      metafile: true,
      logLevel: "silent",
    });
    const output = result.outputFiles[0];
    if (!output) throw new Error(`esbuild wrote nothing for ${file}`);
    const target = join(outDir, file.replace(/\.[^.]+$/, ".mjs"));
    await writeFile(target, output.contents);
    return { path: target, metafile: result.metafile };
  }

  it.each(entries)("%s bundles without scripts/ or tests/, and reads no file at run time", async (file) => {
    const { metafile } = await bundle(file);
    const ours = Object.keys(metafile.inputs).filter((input) => !input.includes("node_modules/"));
    for (const input of ours) expect(input).toMatch(/^(netlify\/functions|functions|lib)\//);
    for (const [input, info] of Object.entries(metafile.inputs)) {
      if (input.includes("node_modules/")) continue;
      const fsImports = info.imports.filter((i) => FS_MODULES.has(i.path));
      if (fsImports.length > 0) expect(MAY_USE_FS, `${input} imports the file system`).toContain(input);
    }
    // No SQL, JSON or other data file of the repository ends up needed by the function.
    for (const input of ours) expect(input).toMatch(/\.ts$/);
    expect(relative(ROOT, FUNCTIONS_DIR)).toBe("netlify/functions");
  });

  it("the background function, bundled and loaded on its own, refuses a call without the secret", async () => {
    vi.stubEnv("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none");
    vi.stubEnv("CRON_SECRET", "bundle-test-secret-0123456789");
    vi.stubEnv("SUPABASE_URL", "");
    vi.stubEnv("LOG_LEVEL", "silent");
    const { path } = await bundle("daily-tenant-backup-background.ts");
    const module = await import(pathToFileURL(path).href);
    const response: Response = await module.default(
      new Request("https://site.example/.netlify/functions/daily-tenant-backup-background", {
        method: "POST",
        body: "{}",
      }),
    );
    expect(response.status).toBe(401);
    expect((await response.json()).error.code).toBe("unauthorized");
  });

  it("the scheduled function, bundled and loaded on its own, does nothing without CRON_SECRET", async () => {
    vi.stubEnv("CRON_SECRET", "");
    vi.stubEnv("LOG_LEVEL", "silent");
    const fetchSpy = vi.spyOn(globalThis, "fetch");
    try {
      const { path } = await bundle("scheduled-daily-backup.ts");
      const module = await import(pathToFileURL(path).href);
      const response: Response = await module.default(
        new Request("https://site.example/", { method: "POST" }),
      );
      expect((await response.json()).started).toBe(false);
      expect(module.config.schedule).toBeTruthy();
      expect(fetchSpy).not.toHaveBeenCalled();
    } finally {
      fetchSpy.mockRestore();
    }
  });
});
