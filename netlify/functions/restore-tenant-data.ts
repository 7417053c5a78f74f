import { handleRestoreTenantData } from "../../functions/restore-tenant-data.ts";
import { serve } from "../../functions/runtime.ts";

export default serve(handleRestoreTenantData);
