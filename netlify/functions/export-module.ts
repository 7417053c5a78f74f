import { handleExportModule } from "../../functions/export-module.ts";
import { serve } from "../../functions/runtime.ts";

export default serve(handleExportModule);
