/** Runs scripts/trials/child.ts in a process of its own and watches what it prints and how it ends. */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { TENANT, TRIAL_ENV, type TrialDatabase } from "./world.ts";

const CHILD = fileURLToPath(new URL("./child.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../../", import.meta.url));

export interface ChildEnd {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** "OK …" or "ERROR …", when the operation answered. */
  answer: string | undefined;
  alive: boolean;
  stderr: string;
}

export interface RunningChild {
  process: ChildProcess;
  /** Resolves when the operation has begun (services built, modules loaded). */
  started: Promise<number>;
  ended: Promise<ChildEnd>;
}

export function startChild(db: TrialDatabase, env: Record<string, string>): RunningChild {
  // node itself, not the tsx wrapper: a SIGKILL must reach the process that does the work.
  const child = spawn(process.execPath, ["--import", "tsx", CHILD], {
    cwd: ROOT,
    env: {
      ...process.env,
      ...TRIAL_ENV,
      DATABASE_URL: db.url,
      BACKUP_DIR: db.backupDir,
      TRIAL_TENANT: TENANT,
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let stderr = "";
  let markStarted: (at: number) => void = () => {};
  const started = new Promise<number>((resolve) => {
    markStarted = resolve;
  });
  child.stdout?.on("data", (chunk: Buffer) => {
    out += chunk.toString();
    if (out.includes("START\n")) markStarted(Date.now());
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const ended = new Promise<ChildEnd>((resolve) => {
    child.on("exit", (code, signal) => {
      markStarted(Date.now());
      const lines = out.split("\n");
      resolve({
        code,
        signal,
        answer: lines.find((l) => l.startsWith("OK ") || l.startsWith("ERROR ")),
        alive: lines.includes("ALIVE"),
        stderr,
      });
    });
  });
  return { process: child, started, ended };
}

/** How long an uncut operation takes from START to its answer: the window a random fault lands in. */
export async function durationOf(db: TrialDatabase, env: Record<string, string>): Promise<number> {
  const child = startChild(db, env);
  const at = await child.started;
  const end = await child.ended;
  if (!end.answer?.startsWith("OK ")) {
    throw new Error(`an uncut ${env.TRIAL_OP} failed: ${end.answer ?? end.stderr.slice(0, 400)}`);
  }
  return Math.max(50, Date.now() - at - 500);
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
