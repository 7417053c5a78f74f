/** Input shapes of the operations endpoints (download, details, delete, retention, paging). */
import { z } from "zod";
import { BACKUP_TYPES } from "../lib/backup/manifest.ts";

/** Backup ids become path segments: the characters newBackupId() writes, and no way out of the folder. */
export const backupId = z
  .string({ error: "is required and must be a string" })
  .trim()
  .min(1, "is required")
  .max(128, "is longer than 128 characters")
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, "may hold only letters, digits, '-', '_' and '.'");

export const backupType = z.enum(BACKUP_TYPES, { error: `must be one of ${BACKUP_TYPES.join(", ")}` });

/** Why a backup or restore was started, in the caller's words: kept in its manifest and backup_logs row. */
export const note = z
  .string({ error: "must be a string" })
  .trim()
  .max(500, "is longer than 500 characters")
  .transform((text) => (text === "" ? null : text));
