/**
 * Create backup: one manual backup now. A large organization takes several calls (the API answers 202
 * while it works); the button shows each step and the list shows the backup when it is complete.
 * An optional note says why; it is kept with the backup and shown in the list and the history.
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
  const [note, setNote] = useState("");

  async function start() {
    setRunning(true);
    setError(null);
    setDone(null);
    setProgress("Starting the backup…");
    try {
      const answer = await client.createBackup(
        organization.id,
        { onProgress: (message, calls) => setProgress(`Still working (step ${calls + 1}): ${message}`) },
        note.trim() || undefined,
      );
      setDone(answer);
      setNote("");
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
      <label className="field">
        <span>Note (optional)</span>
        <input
          type="text"
          value={note}
          maxLength={500}
          placeholder="Why, e.g. before the price import"
          onChange={(event) => setNote(event.target.value)}
          disabled={running}
        />
      </label>
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
