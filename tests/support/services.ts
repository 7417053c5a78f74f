/**
 * Services as the functions build them, pointed at a test database and a temporary storage folder, on a
 * test clock (tests/support/clock.ts) that the test sets.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { loadConfig } from "../../lib/config.ts";
import { createLogger } from "../../lib/logger.ts";
import { createServices, type Services } from "../../lib/services.ts";
import { type TestClock, testClock } from "./clock.ts";

export const TEST_CRON_SECRET = "test-cron-secret-0123456789";

export interface TestServices extends Services {
  backupDir: string;
  /** Every log line written, as text, to check that secrets never reach it. */
  logLines: string[];
  /** What services.now() reads. */
  clock: TestClock;
  cleanup(): Promise<void>;
}

export async function createTestServices(
  databaseUrl: string,
  env: Record<string, string> = {},
  overrides: Partial<Omit<Services, "now">> & { clock?: TestClock } = {},
): Promise<TestServices> {
  const { clock = testClock(), ...parts } = overrides;
  const backupDir = await mkdtemp(join(tmpdir(), "tenant-backup-files-"));
  const logLines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      logLines.push(String(chunk));
      done();
    },
  });
  const config = loadConfig({
    DATABASE_URL: databaseUrl,
    BACKUP_DIR: backupDir,
    CRON_SECRET: TEST_CRON_SECRET,
    LOG_LEVEL: "debug",
    ...env,
  });
  const services = createServices(config, {
    log: createLogger({ level: "debug", destination }),
    ...parts,
    now: clock.now,
  });
  return {
    ...services,
    backupDir,
    logLines,
    clock,
    async cleanup() {
      await services.close();
      await rm(backupDir, { recursive: true, force: true });
    },
  };
}
