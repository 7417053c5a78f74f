/**
 * Typed errors: every failure the API can answer with carries a stable `code` and the HTTP status it
 * maps to. They are built only through `fail()` so that codes and statuses stay in one table, and turned
 * into a Response in one place (serve, in functions/runtime.ts).
 */
import { DatabaseError } from "./db/port.ts";
import { StorageError } from "./storage/port.ts";

export const ERROR_STATUS = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  unprocessable: 422,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
  /** The database cannot be reached or gave way (connection lost, restart, timeout): try again later. */
  database_unavailable: 503,
  /** Backup storage refused the write as out of space or quota. */
  storage_full: 507,
  /** Backup storage cannot be written or reached (read-only, no permission, outage). */
  storage_unavailable: 503,
  /** A backup is encrypted with a key this deployment is not configured with (a setup mistake). */
  encryption_key_missing: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = "AppError";
    this.status = ERROR_STATUS[code];
  }
}

export function fail(code: ErrorCode, message: string, details?: Record<string, unknown>): AppError {
  return new AppError(code, message, details);
}

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}

/**
 * The cause class of a failure that is not an AppError, as the answer a caller can act on: an outage of
 * the database or of storage, or storage out of space. One fixed message each, so that nothing of the
 * underlying error (hosts, paths, SQL) reaches the caller; the function log keeps the original.
 * Anything else (a bug) stays unclassified.
 */
export function causeClass(err: unknown): AppError | undefined {
  if (err instanceof AppError) return err;
  if (err instanceof DatabaseError && (err.code === "transient" || err.code === "unauthorized")) {
    return fail("database_unavailable", "the database is unavailable; try again later");
  }
  if (err instanceof StorageError) {
    if (err.code === "full") return fail("storage_full", "backup storage is full; free space and try again");
    if (err.code === "unavailable" || err.code === "transient" || err.code === "unauthorized") {
      return fail("storage_unavailable", "backup storage cannot be written or reached; try again later");
    }
  }
  return undefined;
}

/** The message of anything thrown, for logs and backup_logs rows. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
