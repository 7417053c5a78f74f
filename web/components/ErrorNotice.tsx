/**
 * An API error as people read it: what happened, for this organization, and what to do now. A 429 counts
 * down from Retry-After and offers the retry when the wait is over.
 */
import { useEffect, useState } from "react";
import { ApiError, TransportError } from "../client/errors.ts";
import { formatDateTime } from "./format.ts";

export interface ErrorNoticeProps {
  error: unknown;
  /** The organization's name (or id) for "you are not an admin of …". */
  organization?: string;
  /** Offered on 401. */
  onSignInAgain?: () => void;
  /** Offered once a 429's wait is over. */
  onRetry?: () => void;
}

export function ErrorNotice({ error, organization, onSignInAgain, onRetry }: ErrorNoticeProps) {
  if (error === null || error === undefined) return null;
  if (error instanceof ApiError && error.status === 429) {
    return <RateLimited error={error} onRetry={onRetry} />;
  }
  const { title, text } = describe(error, organization);
  return (
    <div className="notice notice-error" role="alert">
      <p className="notice-title">{title}</p>
      {text && <p>{text}</p>}
      {error instanceof ApiError && error.status === 401 && onSignInAgain && (
        <button type="button" className="button" onClick={onSignInAgain}>
          Sign in again
        </button>
      )}
    </div>
  );
}

export function describe(
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

function RateLimited({ error, onRetry }: { error: ApiError; onRetry?: () => void }) {
  const [until] = useState(() => Date.now() + (error.retryAfter ?? 60) * 1000);
  const [left, setLeft] = useState(() => Math.ceil((until - Date.now()) / 1000));
  useEffect(() => {
    const timer = setInterval(() => setLeft(Math.max(0, Math.ceil((until - Date.now()) / 1000))), 1000);
    return () => clearInterval(timer);
  }, [until]);
  const minutes = Math.floor(left / 60);
  const seconds = String(left % 60).padStart(2, "0");
  return (
    <div className="notice notice-warn" role="alert">
      <p className="notice-title">Too soon after the last one.</p>
      <p>
        {left > 0 ? (
          <>
            You can try again in{" "}
            <strong className="countdown" aria-live="off">
              {minutes}:{seconds}
            </strong>
            .
          </>
        ) : (
          "You can try again now."
        )}
      </p>
      {onRetry && (
        <button type="button" className="button" disabled={left > 0} onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}
