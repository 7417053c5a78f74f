/**
 * Schedule: when the cron call backs the organization up — every 2 days, daily, weekly on a day, or off —
 * at a time of day in UTC, with a switch to pause it; and when it ran last and runs next. Until it is
 * saved here the organization follows the default the server is configured with.
 */
import { useEffect, useId, useState } from "react";
import type { ScheduleFrequency, ScheduleSettings } from "../../client/types.ts";
import { ErrorNotice } from "../ErrorNotice.tsx";
import { formatDateTime } from "../format.ts";
import type { Section, SectionProps } from "../section.ts";

const FREQUENCY_LABELS: Record<ScheduleFrequency, string> = {
  every_2_days: "Every 2 days",
  daily: "Daily",
  weekly: "Weekly",
  off: "Off",
};
const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

function Schedule({ client, organization, organizationLabel, view, reload, onSignInAgain }: SectionProps) {
  const schedule = view.list?.schedule ?? null;
  const [draft, setDraft] = useState<ScheduleSettings | null>(null);
  const [saving, setSaving] = useState(false);
  const [saved, setSaved] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const ids = { frequency: useId(), time: useId(), day: useId() };

  // A new organization, or its schedule read again: the form starts from what the server has.
  useEffect(() => {
    if (schedule) {
      setDraft({
        frequency: schedule.frequency,
        time_of_day: schedule.time_of_day,
        day_of_week: schedule.day_of_week,
        enabled: schedule.enabled,
      });
    }
  }, [schedule]);

  if (!schedule || !draft) return <p className="muted">{view.loading ? "Loading the schedule…" : " "}</p>;

  const change = (next: Partial<ScheduleSettings>) => {
    setSaved(false);
    setDraft((current) => (current ? { ...current, ...next } : current));
  };

  async function save() {
    if (!draft) return;
    setSaving(true);
    setError(null);
    try {
      await client.putSchedule(organization.id, draft);
      setSaved(true);
      await reload();
    } catch (err) {
      setError(err);
    } finally {
      setSaving(false);
    }
  }

  const nextRun = !schedule.next_run_at
    ? "No scheduled backups"
    : Date.parse(schedule.next_run_at) <= Date.now()
      ? `Due now (slot of ${formatDateTime(schedule.next_run_at)}): the next cron call backs it up`
      : formatDateTime(schedule.next_run_at);

  return (
    <div className="schedule">
      <p className="muted">
        When the scheduled backups of {organizationLabel} run (times in UTC).
        {schedule.is_default && " It follows the server's default until you save a schedule of its own."}
      </p>
      <div className="row">
        <div className="field">
          <label htmlFor={ids.frequency}>Frequency</label>
          <select
            id={ids.frequency}
            value={draft.frequency}
            onChange={(e) => {
              const frequency = e.target.value as ScheduleFrequency;
              change({ frequency, day_of_week: frequency === "weekly" ? (draft.day_of_week ?? 0) : null });
            }}
          >
            {Object.entries(FREQUENCY_LABELS).map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </div>
        {draft.frequency === "weekly" && (
          <div className="field">
            <label htmlFor={ids.day}>Day</label>
            <select
              id={ids.day}
              value={draft.day_of_week ?? 0}
              onChange={(e) => change({ day_of_week: Number(e.target.value) })}
            >
              {DAYS.map((name, day) => (
                <option key={name} value={day}>
                  {name}
                </option>
              ))}
            </select>
          </div>
        )}
        <div className="field">
          <label htmlFor={ids.time}>Time (UTC)</label>
          <input
            id={ids.time}
            type="time"
            value={draft.time_of_day}
            onChange={(e) => change({ time_of_day: e.target.value })}
          />
        </div>
        <label className="check">
          <input
            type="checkbox"
            checked={draft.enabled}
            onChange={(e) => change({ enabled: e.target.checked })}
          />
          Enabled
        </label>
        <button type="button" className="button button-primary" onClick={save} disabled={saving}>
          {saving ? "Saving…" : "Save schedule"}
        </button>
      </div>
      <dl className="facts">
        <div className="fact">
          <dt>Next run</dt>
          <dd>
            <span className="fact-main">{nextRun}</span>
          </dd>
        </div>
        <div className="fact">
          <dt>Last run</dt>
          <dd>
            <span className="fact-main">
              {schedule.last_run_at ? formatDateTime(schedule.last_run_at) : "No scheduled backup yet"}
            </span>
          </dd>
        </div>
      </dl>
      <p className="status" role="status" aria-live="polite">
        {saved ? "Schedule saved." : ""}
      </p>
      <ErrorNotice
        error={error}
        organization={organizationLabel}
        onSignInAgain={onSignInAgain}
        onRetry={save}
      />
    </div>
  );
}

export const schedule: Section = { id: "schedule", title: "Schedule", Component: Schedule };
