import { handleModuleTemplate } from "../../functions/module-template.ts";
import { serve } from "../../functions/runtime.ts";

export default serve(handleModuleTemplate);
