import { handleModuleUploadUrl } from "../../functions/module-upload-url.ts";
import { serve } from "../../functions/runtime.ts";

export default serve(handleModuleUploadUrl);
