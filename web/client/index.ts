/** The browser client of the backup API, for the page and for an app's own code. */
export { type ClientOptions, createTenantBackupClient, type TenantBackupClient } from "./api-client.ts";
export { ApiError, TransportError } from "./errors.ts";
export type * from "./types.ts";
