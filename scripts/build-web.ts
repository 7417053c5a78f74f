/**
 * `npm run build`: bundles the admin page (web/) into public/ with esbuild — public/index.html,
 * public/assets/app.js and app.css, and a chunk for supabase-js that only a Supabase sign-in loads.
 * Everything the page runs is in these files: nothing is fetched from a CDN. Netlify publishes public/;
 * the local server serves it at / and rebuilds it when web/ is newer (webBuildIsStale).
 */
import { copyFile, mkdir, readdir, rm, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const WEB_DIR = join(ROOT, "web");
export const PUBLIC_DIR = join(ROOT, "public");
/** The file whose age tells whether the build is older than its sources. */
const MARKER = join("assets", "app.js");

export async function buildWeb(outDir = PUBLIC_DIR): Promise<void> {
  const assets = join(outDir, "assets");
  await rm(assets, { recursive: true, force: true });
  await mkdir(assets, { recursive: true });
  await build({
    entryPoints: { app: join(WEB_DIR, "page", "main.tsx") },
    absWorkingDir: ROOT,
    outdir: assets,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "browser",
    target: ["es2022"],
    minify: true,
    sourcemap: "linked",
    jsx: "automatic",
    chunkNames: "chunks/[name]-[hash]",
    define: { "process.env.NODE_ENV": '"production"' },
    legalComments: "linked",
    logLevel: "warning",
  });
  await copyFile(join(WEB_DIR, "page", "index.html"), join(outDir, "index.html"));
}

async function newestSource(dir: string): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const time = entry.isDirectory() ? await newestSource(path) : (await stat(path)).mtimeMs;
    newest = Math.max(newest, time);
  }
  return newest;
}

/** True when public/ has no build, or web/ changed since it was made. */
export async function webBuildIsStale(outDir = PUBLIC_DIR): Promise<boolean> {
  const built = await stat(join(outDir, MARKER)).catch(() => undefined);
  if (!built) return true;
  return (await newestSource(WEB_DIR)) > built.mtimeMs;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const started = Date.now();
  await buildWeb();
  console.log(`built the admin page into ${PUBLIC_DIR} in ${Date.now() - started} ms`);
}
