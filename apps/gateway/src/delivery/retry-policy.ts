/**
 * The one retry policy: exponential backoff with full jitter, capped, never earlier than a hint
 * from the target (Retry-After, rate-limit reset), and a delivery is given up ("dead") after
 * `maxAttempts` attempts or `maxAgeHours` since it was queued.
 */

export interface RetryPolicy {
  baseMs: number;
  maxMs: number;
  maxAttempts: number;
  maxAgeMs: number;
}

export function createRetryPolicy(options: {
  retryBaseSeconds: number;
  retryMaxSeconds: number;
  maxAttempts: number;
  maxAgeHours: number;
}): RetryPolicy {
  return {
    baseMs: options.retryBaseSeconds * 1000,
    maxMs: options.retryMaxSeconds * 1000,
    maxAttempts: options.maxAttempts,
    maxAgeMs: options.maxAgeHours * 3_600_000,
  };
}

/**
 * Delay before the next attempt after `attempts` failed ones: uniform in [0, min(max, base·2^(n−1))]
 * ("full jitter", so that a failing target is not hit by synchronized waves), but at least `hintMs`.
 */
export function nextDelayMs(policy: RetryPolicy, attempts: number, hintMs = 0, random = Math.random): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempts - 1));
  return Math.max(hintMs, Math.floor(random() * ceiling));
}

/** Why a delivery must stop being retried, or undefined while it may go on. */
export function giveUpReason(
  policy: RetryPolicy,
  attempts: number,
  queuedAt: Date,
  nextAttemptAt: Date,
): string | undefined {
  if (attempts >= policy.maxAttempts) return `gave up after ${attempts} attempts`;
  if (nextAttemptAt.getTime() - queuedAt.getTime() > policy.maxAgeMs) {
    return `gave up: older than ${Math.round(policy.maxAgeMs / 3_600_000)} h`;
  }
  return undefined;
}
