/**
 * A super admin's organization picker: a search box filtering every organization by name or id, and
 * the first matches as a list of buttons. Typing narrows the list; Tab and Enter choose.
 */
import { useId, useState } from "react";
import type { TenantHealth } from "../client/types.ts";

/** Enough to scan at a glance; the search box finds the others. */
const SHOWN = 12;

export function OrganizationPicker({
  tenants,
  current,
  onChoose,
}: {
  tenants: TenantHealth[];
  current: string | null;
  onChoose: (tenant: TenantHealth) => void;
}) {
  const [query, setQuery] = useState("");
  const searchId = useId();
  const q = query.trim().toLowerCase();
  const matches = tenants.filter(
    (t) =>
      q === "" ||
      t.organization_id.toLowerCase().includes(q) ||
      (t.organization_name ?? "").toLowerCase().includes(q),
  );
  return (
    <div className="picker">
      <label htmlFor={searchId}>Find an organization</label>
      <input
        id={searchId}
        type="search"
        value={query}
        placeholder="Name or id"
        onChange={(e) => setQuery(e.target.value)}
        autoComplete="off"
      />
      <ul className="picker-list" aria-label="Organizations">
        {matches.slice(0, SHOWN).map((t) => (
          <li key={t.organization_id}>
            <button
              type="button"
              className={`picker-item${t.organization_id === current ? " selected" : ""}`}
              aria-pressed={t.organization_id === current}
              onClick={() => onChoose(t)}
            >
              <span className="picker-name">{t.organization_name ?? "(no name)"}</span>
              <span className={`badge badge-${t.status}`}>{t.status === "ok" ? "fresh" : t.status}</span>
              <span className="picker-id mono">{t.organization_id}</span>
            </button>
          </li>
        ))}
        {matches.length === 0 && <li className="muted">No organization matches “{query}”.</li>}
        {matches.length > SHOWN && (
          <li className="muted">{matches.length - SHOWN} more: type part of a name or id to find them.</li>
        )}
      </ul>
    </div>
  );
}
