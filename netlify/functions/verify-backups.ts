import { serve } from "../../functions/runtime.ts";
import { handleVerifyBackups } from "../../functions/verify-backups.ts";

export default serve(handleVerifyBackups);
