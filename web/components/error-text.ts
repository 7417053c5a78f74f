/**
 * API errors and restore refusals as sentences, kept apart from the components so that they are tested
 * on their own: what happened, for which organization, and what to do now.
 */
import { ApiError, TransportError } from "../client/errors.ts";
import type { RestoreError, RestoreReport } from "../client/types.ts";
import { formatDateTime } from "./format.ts";

export function describeError(
  error: unknown,
  organization = "this organization",
): { title: string; text?: string } {
  if (error instanceof ApiError) {
    const d = error.details;
    switch (error.status) {
      case 401:
        return { title: "Your sign-in has expired or is not valid.", text: "Sign in again to go on." };
      case 403:
        return {
          title: `You are not an admin of ${organization}.`,
          text: "Only its admins (and super admins) can see, create and restore its backups.",
        };
      case 409:
        if (typeof d.operation === "string") {
          const until =
            typeof d.expires_at === "string" ? ` until ${formatDateTime(d.expires_at)} at the latest` : "";
          return {
            title: `${organization} is busy: a ${d.operation.replaceAll("_", " ")} is running${until}.`,
            text: "Only one backup, restore or deletion runs per organization at a time. Try again when it is done.",
          };
        }
        return { title: "The request conflicts with the current data.", text: error.message };
      case 422: {
        const file = typeof d.file === "string" ? d.file : undefined;
        return file
          ? {
              title: "This backup is damaged.",
              text: `The file ${file} is missing or does not match its checksum; nothing was changed. Choose another backup.`,
            }
          : { title: "This backup cannot be used.", text: error.message };
      }
      case 404:
        return { title: "Not found.", text: error.message };
      default:
        if (error.status >= 500) {
          return {
            title: "The server could not do this now.",
            text: `${error.message} Try again in a moment.`,
          };
        }
        return { title: "The request was refused.", text: error.message };
    }
  }
  if (error instanceof TransportError)
    return { title: "The backup service cannot be reached.", text: error.message };
  return { title: "Something went wrong.", text: error instanceof Error ? error.message : String(error) };
}

/** The refusal to break rows of tables left out (TB005), from a dry run's report or a real restore's 409. */
export function leftOutTable(
  error: unknown,
  report: RestoreReport | undefined,
): { table?: string; detail: string } | null {
  let found: RestoreError | undefined;
  if (error instanceof ApiError && error.status === 409)
    found = error.details.error as RestoreError | undefined;
  if (!found && report?.success === false) found = report.summary.errors[0];
  if (found?.sqlstate !== "TB005") return null;
  return { table: found.table, detail: found.message.replace(/; restore \S+ too$/, ".") };
}

/**
 * The dry run's notes about columns that are in the backup but no longer in the table: a real restore
 * refuses them (TB002) unless told to go on without those values (allow_dropped_columns).
 */
export function droppedColumnNotes(report: RestoreReport | undefined): string[] {
  return (report?.summary.warnings ?? []).filter((w) =>
    w.includes("are in the backup but no longer in the table"),
  );
}
