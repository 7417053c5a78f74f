/**
 * The CPU time an operation takes, in three parts: this process's main thread (where its JavaScript runs),
 * the whole process (with the thread pool's compression, hashing and file writes, and V8's own threads;
 * and of it, the time in the kernel), and the PostgreSQL server. On a machine of 2 cores, wall time alone
 * cannot tell whether an operation waits or works, nor whose work it waits on: these can.
 *
 * The server's part is read from /proc (Linux; null elsewhere): its postmaster's time and that of the
 * children it has reaped (backends that ended meanwhile), plus each live child's own.
 */
import { readdirSync, readFileSync } from "node:fs";
import pg from "pg";

export interface CpuTime {
  mainMs: number;
  processMs: number;
  /** Of processMs, the time in the kernel: mostly files created and written (the backup's chunks). */
  systemMs: number;
  postgresMs: number | null;
}

/** /proc counts in clock ticks of 10 ms (USER_HZ is 100 on every Linux this runs on). */
const TICK_MS = 10;

interface ProcStat {
  ppid: number;
  own: number;
  reaped: number;
}

function procStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null; // ended since the folder was listed
  }
  // After the command's name, which is in parentheses and may hold spaces: state, ppid, … utime (the
  // 14th field), stime, cutime, cstime.
  const f = text
    .slice(text.lastIndexOf(")") + 2)
    .split(" ")
    .map(Number);
  return {
    ppid: f[1] as number,
    own: (f[11] as number) + (f[12] as number),
    reaped: (f[13] as number) + (f[14] as number),
  };
}

function serverTicks(postmaster: number): number {
  let ticks = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const stat = procStat(pid);
    if (pid === postmaster) ticks += (stat?.own ?? 0) + (stat?.reaped ?? 0);
    else if (stat?.ppid === postmaster) ticks += stat.own;
  }
  return ticks;
}

/** Starts counting; `stop` answers the CPU time since. */
export async function startCpuTime(url: string): Promise<{ stop(): Promise<CpuTime> }> {
  // Open until stop: its own backend is then counted alike at both ends.
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const backend = (await client.query("select pg_backend_pid() as pid")).rows[0].pid as number;
  const postmaster = procStat(backend)?.ppid ?? null;
  const server = () => (postmaster === null ? 0 : serverTicks(postmaster));
  const main = process.threadCpuUsage();
  const all = process.cpuUsage();
  const before = server();
  return {
    async stop() {
      const serverMs = postmaster === null ? null : (server() - before) * TICK_MS;
      const m = process.threadCpuUsage(main);
      const a = process.cpuUsage(all);
      await client.end();
      return {
        mainMs: (m.user + m.system) / 1000,
        processMs: (a.user + a.system) / 1000,
        systemMs: a.system / 1000,
        postgresMs: serverMs,
      };
    },
  };
}
