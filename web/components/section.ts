/**
 * What every section of the page receives. A section is one file in sections/ and one line in
 * sections/index.ts: schedules, validation, modules or storage monitoring join the page that way.
 */
import type { ComponentType } from "react";
import type { TenantBackupClient } from "../client/api-client.ts";
import type { BackupList, BackupListing, HealthReport } from "../client/types.ts";

export interface Organization {
  id: string;
  /** Null until the API has named it. */
  name: string | null;
}

export interface TenantView {
  list: BackupList | null;
  /** This organization's freshness (backup-health with its id). */
  health: HealthReport | null;
  loading: boolean;
  error: unknown;
}

/** What the restore section needs of a backup: one from the list, or an undo point not listed yet. */
export type RestoreTarget = Pick<
  BackupListing,
  "backup_id" | "backup_date" | "backup_type" | "completed_at" | "total_records"
>;

export interface SectionProps {
  client: TenantBackupClient;
  organization: Organization;
  /** How the organization is named in sentences: its name, else its id. */
  organizationLabel: string;
  /** A super admin: may change what applies to every organization (the validation rules). */
  superAdmin: boolean;
  view: TenantView;
  /** Reads the backups, history and health again (after a backup, restore or deletion). */
  reload: () => Promise<void>;
  /** The backup the restore section works on; set by "Restore" in the list, or by "Undo this restore". */
  restoreTarget: RestoreTarget | null;
  chooseForRestore: (backup: RestoreTarget | null) => void;
  onSignInAgain?: () => void;
}

export interface Section {
  id: string;
  title: string;
  Component: ComponentType<SectionProps>;
}
