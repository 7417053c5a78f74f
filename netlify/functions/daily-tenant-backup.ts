import { handleDailyTenantBackup } from "../../functions/daily-tenant-backup.ts";
import { serve } from "../../functions/runtime.ts";

export default serve(handleDailyTenantBackup);
