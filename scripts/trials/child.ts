/**
 * One operation of a fault trial in a process of its own, so that the trial can SIGKILL it or cut its
 * database connections at a random moment and see whether the process lives. Reads TRIAL_OP ("backup" or
 * "restore"), TRIAL_BACKUP_ID and TRIAL_DATE (restore) and the deployment's environment; prints "START"
 * once its services exist, then one line: "OK <json>" or "ERROR <status> <code> <message>" (the status an endpoint would answer), and, half a
 * second later (a crash from a connection's late error would come by then), "ALIVE".
 */
import { runManualBackup } from "../../lib/backup/manual.ts";
import { loadConfig } from "../../lib/config.ts";
import { causeClass } from "../../lib/errors.ts";
import { createLogger } from "../../lib/logger.ts";
import { restoreTenant } from "../../lib/restore/restore-tenant.ts";
import { createServices } from "../../lib/services.ts";

const services = createServices(loadConfig(process.env), { log: createLogger({ level: "silent" }) });
const tenantId = process.env.TRIAL_TENANT as string;
const deadline = () => services.now().getTime() + 3_600_000;

async function run(): Promise<unknown> {
  if (process.env.TRIAL_OP === "backup") {
    const result = await runManualBackup(services, tenantId, { deadline: deadline() });
    return { status: result.status, backupId: result.backupId };
  }
  for (;;) {
    const outcome = await restoreTenant(services, {
      tenantId,
      backupDate: process.env.TRIAL_DATE as string,
      backupId: process.env.TRIAL_BACKUP_ID,
      dryRun: false,
      deadline: deadline(),
    });
    if (outcome.status === "done") {
      return { status: "done", success: outcome.report.success, undoBackupId: outcome.undoBackupId };
    }
  }
}

process.stdout.write("START\n");
try {
  process.stdout.write(`OK ${JSON.stringify(await run())}\n`);
} catch (err) {
  // As the endpoints answer (functions/http.ts): the error's cause class, or 500 for anything unclassified.
  const answered = causeClass(err);
  const line = answered
    ? `ERROR ${answered.status} ${answered.code} ${answered.message}`
    : `ERROR 500 unclassified ${(err as Error).name}: ${(err as Error).message}`;
  process.stdout.write(`${line.replaceAll("\n", " ")}\n`);
}
await new Promise((resolve) => setTimeout(resolve, 500));
await services.close().catch(() => {});
process.stdout.write("ALIVE\n");
