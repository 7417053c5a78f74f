import { handleBackupDetails } from "../../functions/backup-details.ts";
import { serve } from "../../functions/runtime.ts";

export default serve(handleBackupDetails);
