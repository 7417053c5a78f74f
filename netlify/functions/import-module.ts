import { handleImportModule } from "../../functions/import-module.ts";
import { serve } from "../../functions/runtime.ts";

export default serve(handleImportModule);
