/**
 * POST /.netlify/functions/module-upload-url?organization_id=…
 * For a CSV file larger than a request body may be (IMPORT_MAX_BYTES; Netlify buffers 6 MB): a signed URL
 * to PUT the file to (Supabase Storage, valid two hours, no credentials needed) and the key it lands at,
 * `tenant-imports/{organization_id}/<id>.csv`, to name as `upload` in import-module. Answers
 * { upload, url, max_bytes }. 400 when files are not in Supabase Storage (send the file as the body).
 * Cron secret, a super admin, or an admin of that organization.
 */
import { z } from "zod";
import type { ImportUpload } from "../lib/api-answers.ts";
import { signUpload } from "../lib/modules/uploads.ts";
import { endpoint } from "./endpoint.ts";
import { json } from "./http.ts";
import { requireTenant } from "./module-schemas.ts";
import { organizationId } from "./organization-id.ts";

const querySchema = z.object({ organization_id: organizationId }).strict();

export const handleModuleUploadUrl = endpoint({
  name: "module-upload-url",
  methods: ["POST"],
  from: "query",
  input: querySchema,
  access: "organization",
  async run({ input, services }) {
    await requireTenant(services, input.organization_id);
    const { path, url } = await signUpload(services, input.organization_id);
    return json(200, {
      success: true,
      organization_id: input.organization_id,
      upload: path,
      url,
      max_bytes: services.config.modules.uploadMaxBytes,
    } satisfies ImportUpload);
  },
});
