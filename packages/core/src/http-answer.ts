import { PermanentError, RetryableError } from "./connector.ts";

export { maskEmails } from "./mask-emails.ts";

/**
 * One vocabulary for what a target's HTTP answer means to a delivery, shared by every connector,
 * so that a 429, a 503 or a 401 is handled the same way whichever target sent it.
 *
 * - `ok`: 2xx.
 * - `rate-limited`: 429. Retry no earlier than `delayMs` (from `Retry-After` or a rate-limit reset
 *   header) and slow the connector down.
 * - `retry`: may pass (5xx, 408 Request Timeout, 425 Too Early); `delayMs` when the target said when.
 * - `unhealthy`: nothing will work until an operator acts (401, 403: credentials refused or missing
 *   scopes; 410 Gone: the endpoint was removed). The items are dead and the connector reports
 *   itself unhealthy.
 * - `dead`: this request will never be accepted as sent (other 4xx).
 *
 * A connector whose target documents something else (HubSpot's daily limit, SendGrid's
 * `X-RateLimit-Remaining: 0`) decides that first and falls back to this.
 */
export type HttpVerdict = (
  | { kind: "ok" }
  | { kind: "rate-limited"; delayMs: number }
  | { kind: "retry"; delayMs: number | undefined }
  | { kind: "unhealthy" }
  | { kind: "dead" }
) & {
  /** The status judged (absent on verdicts a connector builds itself); errors carry it as `targetStatus`. */
  status?: number;
};

/** Headers as the SDKs hand them over: a fetch `Headers`, an axios `AxiosHeaders`, or a plain object. */
export type HeaderSource = Headers | { get?: unknown; [name: string]: unknown } | null | undefined;

export interface VerdictOptions {
  /** The wait after a 429 that says nothing about when to come back; default 1 s. */
  defaultRateLimitMs?: number;
  /** Longest wait taken from a header: a far-off date or clock must not park deliveries for days; default 1 h. */
  maxDelayMs?: number;
  now?: number;
}

const HOUR_MS = 3_600_000;

/** A header's value, case-insensitively, whatever shape the headers come in; the first of a list. */
export function headerOf(headers: HeaderSource, name: string): string | undefined {
  if (headers === null || typeof headers !== "object") return undefined;
  let value: unknown;
  const getter = (headers as { get?: unknown }).get;
  if (typeof getter === "function") value = (getter as (n: string) => unknown).call(headers, name);
  if (value === undefined || value === null) {
    const wanted = name.toLowerCase();
    for (const [key, v] of Object.entries(headers)) {
      if (key.toLowerCase() === wanted) {
        value = v;
        break;
      }
    }
  }
  if (Array.isArray(value)) value = value[0];
  if (typeof value === "number") return String(value);
  return typeof value === "string" ? value : undefined;
}

/**
 * `Retry-After` in milliseconds: delay-seconds or an HTTP date (RFC 9110 §10.2.3), never negative,
 * at most `maxDelayMs`; `undefined` when absent or unreadable.
 */
export function retryAfterMs(
  value: string | undefined,
  now = Date.now(),
  maxDelayMs = HOUR_MS,
): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.min(maxDelayMs, Math.ceil(Number(text) * 1000));
  // An HTTP date names its weekday and month: "-1" or "30s" are not dates, whatever Date.parse says.
  const date = /[a-z]{3}/i.test(text) ? Date.parse(text) : Number.NaN;
  return Number.isNaN(date) ? undefined : Math.min(maxDelayMs, Math.max(0, date - now));
}

/** What an HTTP answer means for the delivery: see {@link HttpVerdict}. */
export function httpVerdict(
  status: number,
  headers?: HeaderSource,
  options: VerdictOptions = {},
): HttpVerdict {
  if (status >= 200 && status < 300) return { kind: "ok", status };
  const delay = retryAfterMs(headerOf(headers, "retry-after"), options.now, options.maxDelayMs);
  if (status === 429)
    return { kind: "rate-limited", delayMs: delay ?? options.defaultRateLimitMs ?? 1_000, status };
  if (status === 401 || status === 403 || status === 410) return { kind: "unhealthy", status };
  if (status >= 500 || status === 408 || status === 425) return { kind: "retry", delayMs: delay, status };
  return { kind: "dead", status };
}

/**
 * Throws what a failed answer means for the whole batch: {@link RetryableError} (rate-limited
 * or not, with the delay) or {@link PermanentError}; for `unhealthy` it first reports the connector
 * unhealthy with `reason`. Does nothing for `ok`.
 */
export function throwForVerdict(
  verdict: HttpVerdict,
  reason: string,
  health?: { unhealthy(reason: string): void },
): void {
  const targetStatus = verdict.status === undefined ? {} : { targetStatus: verdict.status };
  switch (verdict.kind) {
    case "ok":
      return;
    case "rate-limited":
      throw new RetryableError(reason, { delayMs: verdict.delayMs, rateLimited: true, ...targetStatus });
    case "retry":
      throw new RetryableError(reason, {
        ...(verdict.delayMs === undefined ? {} : { delayMs: verdict.delayMs }),
        ...targetStatus,
      });
    case "unhealthy":
      health?.unhealthy(reason);
      throw new PermanentError(reason, targetStatus);
    case "dead":
      throw new PermanentError(reason, targetStatus);
  }
}
