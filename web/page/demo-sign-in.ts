/**
 * The local server's demo sign-in (scripts/local-sign-in.ts): only `npm start` with the demo database
 * answers these paths; a deployed site answers 404, and the page then offers Supabase sign-in only.
 * The answers' shapes are declared here, and the local server imports them (types only: the page's
 * type-check must not read the server's Node code).
 */
export interface DemoUser {
  id: string;
  label: string;
  email: string;
  role: string;
  organization_id: string | null;
  organization_name: string | null;
}

/** GET /local-sign-in/users. */
export interface DemoUsersAnswer {
  users: DemoUser[];
}

/** POST /local-sign-in/token {user_id}. */
export interface DemoTokenAnswer {
  access_token: string;
  token_type: "bearer";
  expires_in: number;
  user: DemoUser;
}

export async function demoUsers(): Promise<DemoUser[] | null> {
  try {
    const response = await fetch("/local-sign-in/users");
    if (!response.ok) return null;
    return ((await response.json()) as DemoUsersAnswer).users;
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
  return ((await response.json()) as DemoTokenAnswer).access_token;
}
