/**
 * Run by the kill test in a child process: the daily backup against DATABASE_URL, with every stored
 * object announced on stdout ("PUT <path>") and slowed down, so that the parent can kill it half way.
 */
import { handleDailyTenantBackup } from "../../functions/daily-tenant-backup.ts";
import { serve } from "../../functions/runtime.ts";
import { loadConfig } from "../../lib/config.ts";
import { createLogger } from "../../lib/logger.ts";
import { createServices } from "../../lib/services.ts";

const services = createServices(loadConfig(process.env), { log: createLogger({ level: "silent" }) });
const inner = services.storage;
services.storage = {
  // The retrying wrapper is a plain object: spreading it keeps every other operation.
  ...inner,
  async put(path, data, type) {
    await inner.put(path, data, type);
    process.stdout.write(`PUT ${path}\n`);
    await new Promise((resolve) => setTimeout(resolve, 40));
  },
};
const response = await serve(
  handleDailyTenantBackup,
  () => services,
)(
  new Request("http://localhost/.netlify/functions/daily-tenant-backup", {
    method: "POST",
    headers: { authorization: `Bearer ${process.env.CRON_SECRET}` },
  }),
);
process.stdout.write(`DONE ${response.status}\n`);
await services.close();
