import { handlePageConfig } from "../../functions/page-config.ts";
import { serve } from "../../functions/runtime.ts";

export default serve(handlePageConfig);
