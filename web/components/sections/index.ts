/** The page's sections, in page order. A new section is a file in this folder and a line here. */
import type { Section } from "../section.ts";
import { availableBackups } from "./available-backups.tsx";
import { createBackup } from "./create-backup.tsx";
import { history } from "./history.tsx";
import { modules } from "./modules.tsx";
import { overview } from "./overview.tsx";
import { restore } from "./restore.tsx";
import { schedule } from "./schedule.tsx";
import { storage } from "./storage.tsx";
import { validation } from "./validation.tsx";

export const SECTIONS: readonly Section[] = [
  overview,
  createBackup,
  schedule,
  availableBackups,
  restore,
  modules,
  storage,
  validation,
  history,
];
