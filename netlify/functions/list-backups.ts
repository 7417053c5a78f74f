import { handleListBackups } from "../../functions/list-backups.ts";
import { serve } from "../../functions/runtime.ts";

export default serve(handleListBackups);
