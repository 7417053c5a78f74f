import { serve } from "../../functions/runtime.ts";
import { handleValidationRules } from "../../functions/validation-rules.ts";

export default serve(handleValidationRules);
