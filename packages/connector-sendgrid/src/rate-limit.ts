import { type HeaderSource, headerOf, retryAfterMs } from "@engage-bridge/core";

/**
 * SendGrid's rate-limit headers. Every v3 answer carries `X-RateLimit-Limit`, `X-RateLimit-Remaining`
 * and `X-RateLimit-Reset`; the numbers are not published and differ per endpoint. `Reset` is
 * documented as a Unix time in seconds, but some specs describe it as seconds until the reset: a
 * value above 1e9 is read as a Unix time, anything else as a number of seconds.
 */

/** Above this, `X-RateLimit-Reset` is a Unix time (1e9 s is September 2001). */
export const EPOCH_THRESHOLD = 1e9;
/** A hint longer than this is treated as this: a clock far off must not park deliveries for days. */
export const MAX_HINT_MS = 3_600_000;
/** The wait when SendGrid says "no requests left" without a usable reset time. */
export const DEFAULT_WAIT_MS = 1_000;

export interface RateLimitInfo {
  /** `X-RateLimit-Remaining`, when present and numeric. */
  remaining: number | undefined;
  /** Milliseconds until the window resets (from `X-RateLimit-Reset`), when present and numeric. */
  resetInMs: number | undefined;
}

function numeric(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const trimmed = text.trim();
  if (!/^\d+(\.\d+)?$/.test(trimmed)) return undefined;
  return Number(trimmed);
}

/**
 * Milliseconds until the reset named by an `X-RateLimit-Reset` value: a Unix time in seconds when
 * above {@link EPOCH_THRESHOLD}, else seconds from now. Never negative, at most {@link MAX_HINT_MS};
 * undefined when absent or not a number.
 */
export function resetDelayMs(value: string | undefined, now = Date.now()): number | undefined {
  const n = numeric(value);
  if (n === undefined) return undefined;
  const ms = n > EPOCH_THRESHOLD ? n * 1000 - now : n * 1000;
  return Math.min(MAX_HINT_MS, Math.max(0, Math.ceil(ms)));
}

/** The rate-limit headers of an SDK answer (an `AxiosHeaders`, a plain object, a `Headers`). */
export function readRateLimit(headers: unknown, now = Date.now()): RateLimitInfo {
  return {
    remaining: numeric(headerOf(headers as HeaderSource, "x-ratelimit-remaining")),
    resetInMs: resetDelayMs(headerOf(headers as HeaderSource, "x-ratelimit-reset"), now),
  };
}

/**
 * How long to wait after an answer: after a 429, or when no requests are left in the window, until
 * the reset (at least {@link DEFAULT_WAIT_MS} when the reset is unknown or already past); otherwise 0.
 * A 429 that also carries `Retry-After` (read by core's `retryAfterMs`; SendGrid does not promise
 * it) waits for the later of the two: never earlier than either says.
 */
export function waitAfter(status: number, headers: unknown, now = Date.now()): number {
  const info = readRateLimit(headers, now);
  if (status === 429) {
    const retryAfter = retryAfterMs(headerOf(headers as HeaderSource, "retry-after"), now, MAX_HINT_MS);
    const hint = Math.max(info.resetInMs ?? 0, retryAfter ?? 0);
    return hint > 0 ? hint : DEFAULT_WAIT_MS;
  }
  if (info.remaining === 0) {
    return info.resetInMs !== undefined && info.resetInMs > 0 ? info.resetInMs : DEFAULT_WAIT_MS;
  }
  return 0;
}
