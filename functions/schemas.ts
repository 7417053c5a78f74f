/** Input shapes shared by the handlers, so that every endpoint names and checks a field the same way. */
import { z } from "zod";
import { TENANT_ID_PATTERN } from "../lib/backup/paths.ts";

export const organizationId = z
  .string({ error: "is required and must be a string" })
  .trim()
  .min(1, "is required")
  .max(128, "is longer than 128 characters")
  .regex(TENANT_ID_PATTERN, "may hold only letters, digits, '-', '_' and '.'");
