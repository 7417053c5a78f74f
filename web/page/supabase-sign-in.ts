/**
 * Supabase Auth in the browser, with the project URL and anon key from page-config. Loaded only when the
 * deployment has them, so a local demo never downloads supabase-js.
 */
import { createClient, type Session } from "@supabase/supabase-js";

export type SupabaseAuth = ReturnType<typeof createSupabaseAuth>;

export function createSupabaseAuth(url: string, anonKey: string) {
  const supabase = createClient(url, anonKey, { auth: { persistSession: true, detectSessionInUrl: true } });
  return {
    async session(): Promise<Session | null> {
      return (await supabase.auth.getSession()).data.session;
    },
    onChange(listener: (session: Session | null) => void): () => void {
      const { data } = supabase.auth.onAuthStateChange((_event, session) => listener(session));
      return () => data.subscription.unsubscribe();
    },
    async signInWithPassword(email: string, password: string): Promise<void> {
      const { error } = await supabase.auth.signInWithPassword({ email, password });
      if (error) throw error;
    },
    /** Sends a sign-in link that comes back to this page. */
    async sendMagicLink(email: string): Promise<void> {
      const { error } = await supabase.auth.signInWithOtp({
        email,
        options: { emailRedirectTo: window.location.href.split("#")[0], shouldCreateUser: false },
      });
      if (error) throw error;
    },
    async signOut(): Promise<void> {
      await supabase.auth.signOut();
    },
    /**
     * The signed-in user's organization from the app's own profile row (profiles.organization_id, the
     * default ADMIN_PROFILE_TABLE), when row level security lets users read their own row; else null and
     * the page asks for it.
     */
    async organizationOf(userId: string): Promise<string | null> {
      const { data, error } = await supabase
        .from("profiles")
        .select("organization_id")
        .eq("id", userId)
        .maybeSingle();
      if (error || !data) return null;
      const id = (data as { organization_id?: unknown }).organization_id;
      return typeof id === "string" ? id : null;
    },
  };
}
