/** The header facts: newest backup and its age, health against the freshness limit, storage used. */
import type { BackupListing } from "../../client/types.ts";
import { formatAge, formatBytes, formatDateTime, typeLabel } from "../format.ts";
import type { Section, SectionProps } from "../section.ts";

function Overview({ view }: SectionProps) {
  const backups = (view.list?.backups ?? []).filter((b): b is BackupListing => b.status === "completed");
  const newest = backups[0];
  // What storage holds for the organization (backup-health's usage); the listed backups' sizes until then.
  const usage = view.health?.usage;
  const bytes = usage?.total_bytes ?? backups.reduce((sum, b) => sum + b.total_size, 0);
  const health = view.health?.tenants[0];
  // What this organization's schedule allows (a weekly one: a week and a bit).
  const limit = health?.max_age_hours ?? view.health?.max_age_hours;
  const more = view.list?.backups_next_before ? "+" : "";
  const status = health?.status;
  return (
    <dl className="facts" aria-busy={view.loading}>
      <div className="fact">
        <dt>Newest backup</dt>
        <dd>
          {newest ? (
            <>
              <span className="fact-main">{formatAge(newest.completed_at)}</span>
              <span className="fact-sub">
                {typeLabel(newest.backup_type)} · {formatDateTime(newest.completed_at)}
              </span>
            </>
          ) : (
            <span className="fact-main">{view.list ? "None yet" : "…"}</span>
          )}
        </dd>
      </div>
      <div className="fact">
        <dt>Health</dt>
        <dd>
          <span className={`badge badge-${status ?? "unknown"}`}>
            {status === "ok"
              ? "Fresh"
              : status === "stale"
                ? "Stale"
                : status === "missing"
                  ? "No backup"
                  : status === "unscheduled"
                    ? "Backups off"
                    : "…"}
          </span>
          {health && (
            <span className="fact-sub">
              {status === "missing"
                ? "no completed backup yet"
                : status === "unscheduled"
                  ? "scheduled backups are off"
                  : `${status === "ok" ? "younger" : "older"} than ${limit} hours`}
            </span>
          )}
        </dd>
      </div>
      <div className="fact">
        <dt>Storage used</dt>
        <dd>
          <span className="fact-main">
            {usage ? formatBytes(bytes) : view.list ? `${formatBytes(bytes)}${more}` : "…"}
          </span>
          <span className="fact-sub">
            {view.list ? `${backups.length}${more} backup${backups.length === 1 && !more ? "" : "s"}` : " "}
          </span>
        </dd>
      </div>
    </dl>
  );
}

export const overview: Section = { id: "overview", title: "Overview", Component: Overview };
