import { handleDeleteBackup } from "../../functions/delete-backup.ts";
import { serve } from "../../functions/runtime.ts";

export default serve(handleDeleteBackup);
