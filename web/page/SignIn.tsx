/** The sign-in screens: demo users (local server), or Supabase Auth by password or magic link. */
import { useId, useState } from "react";
import type { DemoUser } from "./demo-sign-in.ts";
import type { SupabaseAuth } from "./supabase-sign-in.ts";

export function DemoSignIn({
  users,
  onChoose,
}: {
  users: DemoUser[];
  onChoose: (user: DemoUser) => Promise<void>;
}) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  return (
    <section className="card signin" aria-labelledby="signin-title">
      <h2 id="signin-title">Sign in</h2>
      <p className="muted">
        Local demo: no Supabase project here, so this server signs you in as one of the demo app's users.
        Roles are read from its database, as they would be from yours.
      </p>
      <ul className="user-list">
        {users.map((user) => (
          <li key={user.id}>
            <button
              type="button"
              className="user"
              disabled={busy !== null}
              onClick={async () => {
                setBusy(user.id);
                setError(null);
                try {
                  await onChoose(user);
                } catch (err) {
                  setError((err as Error).message);
                  setBusy(null);
                }
              }}
            >
              <span className="user-label">Sign in as {user.label}</span>
              <span className="user-email muted">{user.email}</span>
            </button>
          </li>
        ))}
      </ul>
      {error && (
        <p className="notice notice-error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}

export function SupabaseSignIn({ auth }: { auth: SupabaseAuth }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const emailId = useId();
  const passwordId = useId();

  async function run(action: () => Promise<void>, done?: string) {
    setBusy(true);
    setMessage(null);
    try {
      await action();
      if (done) setMessage({ ok: true, text: done });
    } catch (err) {
      setMessage({ ok: false, text: (err as Error).message });
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="card signin" aria-labelledby="signin-title">
      <h2 id="signin-title">Sign in</h2>
      <form
        className="stack"
        onSubmit={(e) => {
          e.preventDefault();
          void run(() => auth.signInWithPassword(email, password));
        }}
      >
        <label htmlFor={emailId}>Email</label>
        <input
          id={emailId}
          type="email"
          autoComplete="email"
          required
          value={email}
          onChange={(e) => setEmail(e.target.value)}
        />
        <label htmlFor={passwordId}>Password</label>
        <input
          id={passwordId}
          type="password"
          autoComplete="current-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
        <div className="row">
          <button type="submit" className="button button-primary" disabled={busy || !email || !password}>
            Sign in
          </button>
          <button
            type="button"
            className="button"
            disabled={busy || !email}
            onClick={() => run(() => auth.sendMagicLink(email), `A sign-in link is on its way to ${email}.`)}
          >
            Email me a sign-in link
          </button>
        </div>
      </form>
      {message && (
        <p
          className={`notice ${message.ok ? "notice-ok" : "notice-error"}`}
          role={message.ok ? "status" : "alert"}
        >
          {message.text}
        </p>
      )}
    </section>
  );
}
