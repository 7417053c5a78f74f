import { handleBackupTenantData } from "../../functions/backup-tenant-data.ts";
import { serve } from "../../functions/runtime.ts";

export default serve(handleBackupTenantData);
