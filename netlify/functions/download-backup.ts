import { handleDownloadBackup } from "../../functions/download-backup.ts";
import { serve } from "../../functions/runtime.ts";

export default serve(handleDownloadBackup);
