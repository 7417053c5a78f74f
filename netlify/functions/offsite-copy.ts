import { handleOffsiteCopy } from "../../functions/offsite-copy.ts";
import { serve } from "../../functions/runtime.ts";

export default serve(handleOffsiteCopy);
