/**
 * Storage and drills: what this organization's backups take in storage against the quota
 * (STORAGE_QUOTA_BYTES, from backup-health's usage), and the last verification drill of its backups
 * (verify-backups: each file re-read, the restore rehearsed and rolled back).
 */
import type { BackupListing } from "../../client/types.ts";
import { formatAge, formatBytes, formatCount, formatDateTime } from "../format.ts";
import type { Section, SectionProps } from "../section.ts";

function Storage({ view }: SectionProps) {
  const usage = view.health?.usage;
  const backups = (view.list?.backups ?? []).filter((b): b is BackupListing => b.status === "completed");
  // The newest drill among the listed backups.
  const drilled = backups
    .filter((b) => b.verification)
    .sort((a, b) => Date.parse(b.verification?.at ?? "") - Date.parse(a.verification?.at ?? ""))[0];
  const percent = usage ? Math.round(usage.used_ratio * 1000) / 10 : null;
  const warn = usage !== undefined && usage.used_ratio >= usage.warn_ratio;
  return (
    <dl className="facts" aria-busy={view.loading}>
      <div className="fact storage-used">
        <dt>Storage used</dt>
        <dd>
          {usage ? (
            <>
              <span className="fact-main">{formatBytes(usage.total_bytes)}</span>
              <span className="fact-sub">
                {percent}% of the {formatBytes(usage.quota_bytes)} quota ·{" "}
                {formatCount(usage.tenants[0]?.backups ?? 0)} backups
              </span>
              <meter
                min={0}
                max={1}
                low={usage.warn_ratio}
                high={usage.warn_ratio}
                optimum={0}
                value={Math.min(1, usage.used_ratio)}
                aria-label="Share of the storage quota used"
              />
              {warn && (
                <span className="bad">
                  Past the warning at {Math.round(usage.warn_ratio * 100)}%: delete backups or shorten
                  retention.
                </span>
              )}
            </>
          ) : (
            <span className="fact-main">…</span>
          )}
        </dd>
      </div>
      <div className="fact last-drill">
        <dt>Last drill</dt>
        <dd>
          {drilled?.verification ? (
            <>
              <span className={`badge badge-${drilled.verification.status === "passed" ? "ok" : "stale"}`}>
                {drilled.verification.status === "passed" ? "Passed" : "Failed"}
              </span>
              <span className="fact-sub">
                {formatAge(drilled.verification.at)} · backup of {formatDateTime(drilled.completed_at)}
              </span>
              {drilled.verification.error && <span className="bad">{drilled.verification.error}</span>}
            </>
          ) : (
            <>
              <span className="fact-main">{view.list ? "Not yet" : "…"}</span>
              <span className="fact-sub">
                the daily drill re-reads and rehearses restoring the newest backup
              </span>
            </>
          )}
        </dd>
      </div>
    </dl>
  );
}

export const storage: Section = { id: "storage", title: "Storage and drills", Component: Storage };
