/**
 * Create backup: one manual backup now. A large organization takes several calls (the API answers 202
 * while it works); the button shows each step and the list shows the backup when it is complete.
 * The API takes no note with a backup, so there is no note field.
 */
import { useState } from "react";
import type { BackupAnswer } from "../../client/types.ts";
import { ErrorNotice } from "../ErrorNotice.tsx";
import { formatBytes, formatCount } from "../format.ts";
import type { Section, SectionProps } from "../section.ts";

function CreateBackup({ client, organization, organizationLabel, reload, onSignInAgain }: SectionProps) {
  const [running, setRunning] = useState(false);
  const [progress, setProgress] = useState<string | null>(null);
  const [done, setDone] = useState<BackupAnswer | null>(null);
  const [error, setError] = useState<unknown>(null);

  async function start() {
    setRunning(true);
    setError(null);
    setDone(null);
    setProgress("Starting the backup…");
    try {
      const answer = await client.createBackup(organization.id, {
        onProgress: (message, calls) => setProgress(`Still working (step ${calls + 1}): ${message}`),
      });
      setDone(answer);
      await reload();
    } catch (err) {
      setError(err);
    } finally {
      setRunning(false);
      setProgress(null);
    }
  }

  return (
    <div className="create">
      <p className="muted">
        A manual backup of every table of {organizationLabel}, kept like the daily ones.
      </p>
      <div className="row">
        <button type="button" className="button button-primary" onClick={start} disabled={running}>
          {running ? "Backing up…" : "Create backup now"}
        </button>
        <p className="status" role="status" aria-live="polite">
          {running && <span className="spinner" aria-hidden="true" />}
          {progress ??
            (done
              ? `Backup created: ${formatCount(done.backup.total_records)} records, ${formatBytes(done.backup.total_size)}.`
              : "")}
        </p>
      </div>
      <ErrorNotice
        error={error}
        organization={organizationLabel}
        onSignInAgain={onSignInAgain}
        onRetry={start}
      />
    </div>
  );
}

export const createBackup: Section = { id: "create", title: "Create backup", Component: CreateBackup };
