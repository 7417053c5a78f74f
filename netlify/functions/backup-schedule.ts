import { handleBackupSchedule } from "../../functions/backup-schedule.ts";
import { serve } from "../../functions/runtime.ts";

export default serve(handleBackupSchedule);
