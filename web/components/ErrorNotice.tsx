/**
 * An API error as people read it: what happened, for this organization, and what to do now. A 429 counts
 * down from Retry-After and offers the retry when the wait is over.
 */
import { useEffect, useState } from "react";
import { ApiError } from "../client/errors.ts";
import { describeError } from "./error-text.ts";

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
  const { title, text } = describeError(error, organization);
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
