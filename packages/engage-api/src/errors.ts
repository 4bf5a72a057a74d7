/**
 * A failed Engage API call. The message never carries the API key, the contact id or any personal
 * data: it names the status only, e.g. `contact lookup failed (status 503)`.
 */
export class EngageApiError extends Error {
  override readonly name = "EngageApiError";
  /** HTTP status of the last attempt; 0 when there was no HTTP answer (network error, timeout). */
  readonly status: number;
  /** True when the same call may succeed later (429, 5xx, network errors, timeouts). */
  readonly retryable: boolean;
  /** From the last answer's `Retry-After`, when it had one. */
  readonly retryAfterMs?: number;
  /** HTTP requests made for this call before giving up. */
  readonly attempts: number;

  constructor(
    message: string,
    options: { status: number; retryable: boolean; retryAfterMs?: number; attempts?: number },
  ) {
    super(message);
    this.status = options.status;
    this.retryable = options.retryable;
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
    this.attempts = options.attempts ?? 1;
  }
}
