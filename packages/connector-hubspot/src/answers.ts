import { headerOf, httpVerdict, maskEmails, retryAfterMs } from "@engage-bridge/core";
import type { HubSpotAnswer, NetworkError } from "./api.ts";

/**
 * How HubSpot's answers are read: core's `httpVerdict` (the vocabulary every connector shares),
 * after HubSpot's own rules. Errors are `{status:"error", message, correlationId, category,
 * errors?}`. HubSpot's own rules (https://developers.hubspot.com/docs/api/usage-details and
 * https://developers.hubspot.com/docs/api-reference/error-handling):
 *
 * - a 429 names its `policyName`: `DAILY` waits for the daily quota; `TEN_SECONDLY_ROLLING` comes
 *   with `X-HubSpot-RateLimit-Interval-Milliseconds`, the wait when there is no `Retry-After`
 *   (which HubSpot does not promise);
 * - 404 means different things per request (an unknown contact may be created later; an unknown
 *   path is a wrong version): the caller decides;
 * - 423 Locked ("include a delay of at least 2 seconds") and 477 Migration in Progress (with a
 *   `Retry-After`) pass later.
 */

/** Wait after a rolling-window 429 when HubSpot gives neither `Retry-After` nor an interval. */
export const ROLLING_RETRY_MS = 10_000;
/**
 * Wait after the daily limit: it resets at midnight in the account's time zone, which the connector
 * does not know, so it looks again every hour (the gateway pauses the whole connector meanwhile).
 */
export const DAILY_RETRY_MS = 3_600_000;
/** Wait after a 423 Locked: HubSpot's locks last 2 seconds. */
export const LOCKED_RETRY_MS = 2_000;

export type Failure =
  | { kind: "rate-limited"; daily: boolean; delayMs: number; reason: string }
  /**
   * 401/403 (the token is refused or lacks scopes) or 410 (the endpoint is gone): nothing will work
   * until an operator acts.
   */
  | { kind: "unhealthy"; status: number; reason: string }
  /** 400 and other 4xx: the request as sent will never be accepted. */
  | { kind: "invalid"; reason: string; body: unknown }
  | { kind: "not-found"; reason: string }
  /** 5xx, 408, 423, 425, 477, no answer: may pass; `delayMs` when HubSpot said when. */
  | { kind: "transient"; reason: string; delayMs?: number };

function field(body: unknown, name: string): string | undefined {
  const value = (body as Record<string, unknown> | undefined)?.[name];
  return typeof value === "string" && value.length > 0 ? value : undefined;
}

/** `HubSpot answered 400 VALIDATION_ERROR: <message> (correlation id …)`, emails masked. */
export function describeAnswer(answer: HubSpotAnswer): string {
  const category = field(answer.body, "category") ?? field(answer.body, "policyName");
  const message = field(answer.body, "message");
  return maskEmails(
    `HubSpot answered ${answer.status}${category ? ` ${category}` : ""}${message ? `: ${message}` : ""}` +
      (answer.correlationId ? ` (correlation id ${answer.correlationId})` : ""),
  );
}

function positiveNumber(value: string | undefined): number | undefined {
  if (value === undefined || !/^\s*\d+(\.\d+)?\s*$/.test(value)) return undefined;
  const n = Number(value);
  return n > 0 ? n : undefined;
}

const transient = (reason: string, delayMs: number | undefined): Failure =>
  delayMs === undefined ? { kind: "transient", reason } : { kind: "transient", reason, delayMs };

/** What went wrong, or undefined for a 2xx (whose content still has to be checked). */
export function failureOf(answer: HubSpotAnswer): Failure | undefined {
  const { status, headers, body } = answer;
  const interval = positiveNumber(headerOf(headers, "x-hubspot-ratelimit-interval-milliseconds"));
  const verdict = httpVerdict(status, headers, {
    defaultRateLimitMs: Math.ceil(interval ?? ROLLING_RETRY_MS),
  });
  if (verdict.kind === "ok") return undefined;
  const reason = describeAnswer(answer);
  // HubSpot's own rules first.
  if (status === 429 && field(body, "policyName") === "DAILY")
    return { kind: "rate-limited", daily: true, delayMs: DAILY_RETRY_MS, reason };
  if (status === 404) return { kind: "not-found", reason };
  const retryAfter = retryAfterMs(headerOf(headers, "retry-after"));
  if (status === 423) return transient(reason, Math.max(LOCKED_RETRY_MS, retryAfter ?? 0));
  if (status === 477) return transient(reason, retryAfter);
  // A conflict (another write to the same record at the same time) may pass on retry; one that does
  // not ends dead after delivery.maxAttempts. As the connector has done since its first version.
  if (status === 409) return transient(reason, retryAfter);
  switch (verdict.kind) {
    case "rate-limited":
      return { kind: "rate-limited", daily: false, delayMs: verdict.delayMs, reason };
    case "retry":
      return transient(reason, verdict.delayMs);
    case "unhealthy":
      return { kind: "unhealthy", status, reason };
    case "dead":
      return { kind: "invalid", reason, body };
  }
}

/** A request that got no answer, as a failure (aborts are rethrown by the caller, not mapped). */
export function networkFailure(error: NetworkError): Failure {
  return { kind: "transient", reason: maskEmails(error.message) };
}
