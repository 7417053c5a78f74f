/**
 * Run by the restore kill test in a child process: a real restore of RESTORE_TENANT from its backup of
 * RESTORE_DATE against DATABASE_URL (tenant layout from the environment), so that the parent can kill it
 * while the apply runs.
 */
import { loadConfig } from "../../lib/config.ts";
import { createLogger } from "../../lib/logger.ts";
import { restoreTenant } from "../../lib/restore/restore-tenant.ts";
import { createServices } from "../../lib/services.ts";

const services = createServices(loadConfig(process.env), { log: createLogger({ level: "silent" }) });
const outcome = await restoreTenant(services, {
  tenantId: process.env.RESTORE_TENANT as string,
  backupDate: process.env.RESTORE_DATE as string,
  dryRun: false,
  deadline: services.now().getTime() + 60_000,
});
process.stdout.write(`DONE ${outcome.status}\n`);
await services.close();
