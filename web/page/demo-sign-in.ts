/**
 * The local server's demo sign-in (scripts/local-sign-in.ts): only `npm start` with the demo database
 * answers these paths; a deployed site answers 404, and the page then offers Supabase sign-in only.
 */
export interface DemoUser {
  id: string;
  label: string;
  email: string;
  role: string;
  organization_id: string | null;
  organization_name: string | null;
}

export async function demoUsers(): Promise<DemoUser[] | null> {
  try {
    const response = await fetch("/local-sign-in/users");
    if (!response.ok) return null;
    return ((await response.json()) as { users: DemoUser[] }).users;
  } catch {
    return null;
  }
}

export async function demoToken(userId: string): Promise<string> {
  const response = await fetch("/local-sign-in/token", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ user_id: userId }),
  });
  if (!response.ok) throw new Error(`the local server refused the sign-in (HTTP ${response.status})`);
  return ((await response.json()) as { access_token: string }).access_token;
}
