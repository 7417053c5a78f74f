import { handleBackupUsage } from "../../functions/backup-usage.ts";
import { serve } from "../../functions/runtime.ts";

export default serve(handleBackupUsage);
