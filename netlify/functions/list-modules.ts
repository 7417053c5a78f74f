import { handleListModules } from "../../functions/list-modules.ts";
import { serve } from "../../functions/runtime.ts";

export default serve(handleListModules);
