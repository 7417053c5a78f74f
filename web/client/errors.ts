/** An error answer of the API, `{ success: false, error: { code, message, details } }`, with its status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
    /** Seconds to wait, from Retry-After (429). */
    readonly retryAfter: number | null = null,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** The network failed or the answer was not the API's JSON (a proxy's HTML page, for instance). */
export class TransportError extends Error {
  constructor(
    message: string,
    readonly status: number | null = null,
  ) {
    super(message);
    this.name = "TransportError";
  }
}

export async function apiErrorFrom(response: Response): Promise<ApiError | TransportError> {
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    return new TransportError(
      `the server answered HTTP ${response.status} without a JSON body`,
      response.status,
    );
  }
  const error = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } }).error;
  if (!error || typeof error.code !== "string") {
    return new TransportError(
      `the server answered HTTP ${response.status} without an error`,
      response.status,
    );
  }
  const details = (error.details && typeof error.details === "object" ? error.details : {}) as Record<
    string,
    unknown
  >;
  const header = Number(response.headers.get("retry-after"));
  const fromDetails = Number(details.retry_after);
  const retryAfter =
    Number.isFinite(header) && header > 0 ? header : Number.isFinite(fromDetails) ? fromDetails : null;
  return new ApiError(
    response.status,
    error.code,
    typeof error.message === "string" ? error.message : error.code,
    details,
    response.status === 429 ? retryAfter : null,
  );
}
