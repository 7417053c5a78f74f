import { handleApplyRetention } from "../../functions/apply-retention.ts";
import { serve } from "../../functions/runtime.ts";

export default serve(handleApplyRetention);
