import { handleBackupHealth } from "../../functions/backup-health.ts";
import { serve } from "../../functions/runtime.ts";

export default serve(handleBackupHealth);
