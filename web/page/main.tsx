/**
 * The standalone page: the TenantBackupRestore component plus sign-in. page-config says whether the
 * deployment has Supabase Auth (URL and anon key); without it, the local server's demo users are offered
 * when it has them.
 */
import "./styles.css";
import { StrictMode, useCallback, useEffect, useState } from "react";
import { createRoot } from "react-dom/client";
import { createTenantBackupClient } from "../client/api-client.ts";
import { TenantBackupRestore } from "../components/TenantBackupRestore.tsx";
import { type DemoUser, demoToken, demoUsers } from "./demo-sign-in.ts";
import { DemoSignIn, SupabaseSignIn } from "./SignIn.tsx";
import type { SupabaseAuth } from "./supabase-sign-in.ts";

const API = "/.netlify/functions";

type Mode =
  | { kind: "loading" }
  | { kind: "supabase"; auth: SupabaseAuth }
  | { kind: "demo"; users: DemoUser[] }
  | { kind: "unconfigured"; reason: string };

interface Signed {
  label: string;
  token: () => Promise<string | null>;
  organizationId?: string;
  organizationName?: string;
}

function App() {
  const [mode, setMode] = useState<Mode>({ kind: "loading" });
  const [signed, setSigned] = useState<Signed | null>(null);

  useEffect(() => {
    (async () => {
      const config = await createTenantBackupClient({ apiBaseUrl: API, getAccessToken: () => null })
        .pageConfig()
        .catch(() => null);
      if (config?.supabase_url && config.supabase_anon_key) {
        const { createSupabaseAuth } = await import("./supabase-sign-in.ts");
        setMode({
          kind: "supabase",
          auth: createSupabaseAuth(config.supabase_url, config.supabase_anon_key),
        });
        return;
      }
      const users = await demoUsers();
      if (users) setMode({ kind: "demo", users });
      else
        setMode({
          kind: "unconfigured",
          reason: config
            ? "Sign-in is not set up: set SUPABASE_URL and SUPABASE_ANON_KEY for the site's functions."
            : "The backup functions cannot be reached.",
        });
    })();
  }, []);

  // Supabase keeps its session across reloads; follow it.
  useEffect(() => {
    if (mode.kind !== "supabase") return;
    const { auth } = mode;
    const adopt = async (session: Awaited<ReturnType<SupabaseAuth["session"]>>) => {
      if (!session) {
        setSigned(null);
        return;
      }
      const organizationId = (await auth.organizationOf(session.user.id)) ?? undefined;
      setSigned({
        label: session.user.email ?? session.user.id,
        token: async () => (await auth.session())?.access_token ?? null,
        organizationId,
      });
    };
    void auth.session().then(adopt);
    return auth.onChange((session) => void adopt(session));
  }, [mode]);

  const signOut = useCallback(async () => {
    if (mode.kind === "supabase") await mode.auth.signOut();
    setSigned(null);
  }, [mode]);

  return (
    <div className="tbr tbr-page">
      <div className="topbar">
        <span className="brand">tenant-backup</span>
        {signed && (
          <span className="who">
            <span className="who-label">{signed.label}</span>
            <button type="button" className="button button-small" onClick={signOut}>
              Sign out
            </button>
          </span>
        )}
      </div>
      <main className="page">
        {mode.kind === "loading" && <p className="status">Loading…</p>}
        {mode.kind === "unconfigured" && (
          <p className="notice notice-error" role="alert">
            {mode.reason}
          </p>
        )}
        {!signed && mode.kind === "demo" && (
          <>
            <h1 className="page-title">Tenant Backup &amp; Restore</h1>
            <DemoSignIn
              users={mode.users}
              onChoose={async (user) => {
                const token = await demoToken(user.id);
                setSigned({
                  label: user.label,
                  token: async () => token,
                  organizationId: user.organization_id ?? undefined,
                  organizationName: user.organization_name ?? undefined,
                });
              }}
            />
          </>
        )}
        {!signed && mode.kind === "supabase" && (
          <>
            <h1 className="page-title">Tenant Backup &amp; Restore</h1>
            <SupabaseSignIn auth={mode.auth} />
          </>
        )}
        {signed && (
          <TenantBackupRestore
            key={signed.label}
            apiBaseUrl={API}
            getAccessToken={signed.token}
            organizationId={signed.organizationId}
            organizationName={signed.organizationName}
            onSignInAgain={signOut}
          />
        )}
      </main>
    </div>
  );
}

const root = document.getElementById("root");
if (root) {
  createRoot(root).render(
    <StrictMode>
      <App />
    </StrictMode>,
  );
}
