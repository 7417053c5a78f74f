/**
 * Tenant Backup & Restore: the admin page as a React component, for the app's own router
 * (`<Route path="/tenant-backup-restore" element={<TenantBackupRestore apiBaseUrl=… getAccessToken=… />} />`).
 * An organization's admin sees their organization (`organizationId`, or typed in when the app does not
 * pass it); a super admin — whom backup-health answers for every organization — picks any.
 */
import { useCallback, useEffect, useId, useMemo, useRef, useState } from "react";
import { createTenantBackupClient, type TenantBackupClient } from "../client/api-client.ts";
import { ApiError } from "../client/errors.ts";
import type { HealthReport, TenantHealth } from "../client/types.ts";
import { ErrorNotice } from "./ErrorNotice.tsx";
import { OrganizationPicker } from "./OrganizationPicker.tsx";
import type { Organization, RestoreTarget, TenantView } from "./section.ts";
import { HISTORY_PAGE } from "./sections/history.tsx";
import { SECTIONS } from "./sections/index.ts";

export interface TenantBackupRestoreProps {
  /** Where the functions live: "/.netlify/functions", or the site's full URL for an app elsewhere. */
  apiBaseUrl: string;
  /** The signed-in user's access token, e.g. `(await supabase.auth.getSession()).data.session?.access_token`. */
  getAccessToken: () => Promise<string | null> | string | null;
  /** The organization the signed-in admin manages, when the app knows it. */
  organizationId?: string;
  /** Its name, if known, for sentences shown before the API has named it. */
  organizationName?: string;
  /** Called when the API says the sign-in is no longer valid (401). */
  onSignInAgain?: () => void;
  /** A client of your own (tests, custom fetch); built from apiBaseUrl and getAccessToken otherwise. */
  client?: TenantBackupClient;
}

type Access =
  | { kind: "checking" }
  | { kind: "super"; tenants: TenantHealth[] }
  | { kind: "admin" }
  | { kind: "error"; error: unknown };

export function TenantBackupRestore(props: TenantBackupRestoreProps) {
  const { apiBaseUrl, getAccessToken, organizationId, organizationName, onSignInAgain } = props;
  const client = useMemo(
    () => props.client ?? createTenantBackupClient({ apiBaseUrl, getAccessToken }),
    [props.client, apiBaseUrl, getAccessToken],
  );
  const [access, setAccess] = useState<Access>({ kind: "checking" });
  const [organization, setOrganization] = useState<Organization | null>(
    organizationId ? { id: organizationId, name: organizationName ?? null } : null,
  );

  // Only a super admin (or the cron secret) may read every organization's health: that is the test.
  useEffect(() => {
    let cancelled = false;
    client.health().then(
      (report) => {
        if (cancelled) return;
        setAccess({ kind: "super", tenants: report.tenants });
        setOrganization((current) => {
          if (current) return current;
          const first = report.tenants[0];
          return first ? { id: first.organization_id, name: first.organization_name } : null;
        });
      },
      (err) => {
        if (cancelled) return;
        setAccess(
          err instanceof ApiError && err.status === 403 ? { kind: "admin" } : { kind: "error", error: err },
        );
      },
    );
    return () => {
      cancelled = true;
    };
  }, [client]);

  return (
    <div className="tbr">
      <header className="tbr-head">
        <h1>Tenant Backup &amp; Restore</h1>
        {organization && (
          <p className="tbr-org">
            <span className="tbr-org-name">{organization.name ?? organization.id}</span>
            {organization.name && <span className="mono muted"> {organization.id}</span>}
          </p>
        )}
      </header>
      {access.kind === "checking" && (
        <p className="status" role="status">
          <span className="spinner" aria-hidden="true" /> Checking your access…
        </p>
      )}
      {access.kind === "error" && <ErrorNotice error={access.error} onSignInAgain={onSignInAgain} />}
      {access.kind === "super" && (
        <section className="card switcher" aria-labelledby="switcher-title">
          <h2 id="switcher-title">Organization</h2>
          <p className="muted">
            As a super admin you can work on any of the {access.tenants.length} organizations.
          </p>
          <OrganizationPicker
            tenants={access.tenants}
            current={organization?.id ?? null}
            onChoose={(t) => setOrganization({ id: t.organization_id, name: t.organization_name })}
          />
        </section>
      )}
      {access.kind === "admin" && !organization && (
        <OrganizationForm onChoose={(id) => setOrganization({ id, name: null })} />
      )}
      {(access.kind === "super" || access.kind === "admin") && organization && (
        <TenantPanel
          key={organization.id}
          client={client}
          organization={organization}
          superAdmin={access.kind === "super"}
          onNamed={(name) =>
            setOrganization((o) => (o && o.id === organization.id && o.name !== name ? { ...o, name } : o))
          }
          onSignInAgain={onSignInAgain}
        />
      )}
    </div>
  );
}

/** When the app does not say which organization its admin manages, the admin says it. */
function OrganizationForm({ onChoose }: { onChoose: (id: string) => void }) {
  const [value, setValue] = useState("");
  const id = useId();
  return (
    <form
      className="card stack"
      onSubmit={(e) => {
        e.preventDefault();
        if (value.trim()) onChoose(value.trim());
      }}
    >
      <label htmlFor={id}>Organization id</label>
      <input id={id} value={value} onChange={(e) => setValue(e.target.value)} autoComplete="off" />
      <button type="submit" className="button button-primary">
        Open
      </button>
    </form>
  );
}

function TenantPanel({
  client,
  organization,
  superAdmin,
  onNamed,
  onSignInAgain,
}: {
  client: TenantBackupClient;
  organization: Organization;
  superAdmin: boolean;
  onNamed: (name: string) => void;
  onSignInAgain?: () => void;
}) {
  const [view, setView] = useState<TenantView>({ list: null, health: null, loading: true, error: null });
  const [restoreTarget, setRestoreTarget] = useState<RestoreTarget | null>(null);

  // The latest callback, without making every render a new reload (and a new round of requests).
  const named = useRef(onNamed);
  named.current = onNamed;

  const reload = useCallback(async () => {
    setView((v) => ({ ...v, loading: true }));
    try {
      const [list, health] = await Promise.all([
        client.listBackups({ organization_id: organization.id, history_limit: HISTORY_PAGE }),
        client.health(organization.id).catch((): HealthReport | null => null),
      ]);
      setView({ list, health, loading: false, error: null });
      if (list.organization_name) named.current(list.organization_name);
    } catch (err) {
      setView((v) => ({ ...v, loading: false, error: err }));
    }
  }, [client, organization.id]);

  useEffect(() => {
    void reload();
  }, [reload]);

  const label = organization.name ?? `organization ${organization.id}`;
  if (view.error && !view.list) {
    return (
      <ErrorNotice error={view.error} organization={label} onSignInAgain={onSignInAgain} onRetry={reload} />
    );
  }
  return (
    <>
      {view.error !== null && (
        <ErrorNotice error={view.error} organization={label} onSignInAgain={onSignInAgain} />
      )}
      {SECTIONS.map(({ id, title, Component }) => (
        <section
          key={id}
          id={`section-${id}`}
          className={`card section-${id}`}
          aria-labelledby={`title-${id}`}
        >
          <h2 id={`title-${id}`} className={id === "overview" ? "visually-hidden" : undefined}>
            {title}
          </h2>
          <Component
            client={client}
            organization={organization}
            organizationLabel={label}
            superAdmin={superAdmin}
            view={view}
            reload={reload}
            restoreTarget={restoreTarget}
            chooseForRestore={setRestoreTarget}
            onSignInAgain={onSignInAgain}
          />
        </section>
      ))}
    </>
  );
}
