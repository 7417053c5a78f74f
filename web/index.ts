/**
 * What an app imports: the Tenant Backup & Restore component for its own router, and the typed client
 * for its own code. Bundle with the app (React 19 is a peer: the app's own React renders it) and
 * include web/components/styles.css (every rule under .tbr), or style the class names yourself.
 */
export * from "./client/index.ts";
export { TenantBackupRestore, type TenantBackupRestoreProps } from "./components/TenantBackupRestore.tsx";
