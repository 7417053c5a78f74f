import { serve } from "../../functions/runtime.ts";
import { handleValidateTenantData } from "../../functions/validate-tenant-data.ts";

export default serve(handleValidateTenantData);
