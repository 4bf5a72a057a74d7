import type { HubSpotAnswer, NetworkError } from "./api.ts";

/**
 * How HubSpot's answers are read. Errors are `{status:"error", message, correlationId, category,
 * errors?}`; a 429 names its `policyName` (`TEN_SECONDLY_ROLLING` or `DAILY`) and comes with
 * `X-HubSpot-RateLimit-Interval-Milliseconds` (`Retry-After` is not promised).
 */

/** Wait after a rolling-window 429 when HubSpot gives no interval. */
export const ROLLING_RETRY_MS = 10_000;
/**
 * Wait after the daily limit: it resets at midnight in the account's time zone, which the connector
 * does not know, so it looks again every hour (the gateway pauses the whole connector meanwhile).
 */
export const DAILY_RETRY_MS = 3_600_000;

export type Failure =
  | { kind: "rate-limited"; daily: boolean; delayMs: number; reason: string }
  /** 401/403: the token is refused or lacks scopes; nothing will work until an operator acts. */
  | { kind: "auth"; reason: string }
  /** 400: the request as sent will never be accepted. */
  | { kind: "invalid"; reason: string; body: unknown }
  | { kind: "not-found"; reason: string }
  /** 5xx, 408, 409, 425, no answer: may pass. */
  | { kind: "transient"; reason: string };

const EMAIL_LIKE = /[^\s@"'<>(),;:]+@[^\s@"'<>(),;:]+/g;

/** HubSpot's messages can quote the email; reasons are stored and shown, so emails are masked. */
export const maskEmails = (text: string) => text.replace(EMAIL_LIKE, "[email]");

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

function positiveNumber(value: string | null): number | undefined {
  if (value === null || !/^\s*\d+(\.\d+)?\s*$/.test(value)) return undefined;
  const n = Number(value);
  return n > 0 ? n : undefined;
}

/** What went wrong, or undefined for a 2xx (whose content still has to be checked). */
export function failureOf(answer: HubSpotAnswer): Failure | undefined {
  const { status } = answer;
  if (status >= 200 && status < 300) return undefined;
  const reason = describeAnswer(answer);
  if (status === 429) {
    const daily = field(answer.body, "policyName") === "DAILY";
    const retryAfter = positiveNumber(answer.headers.get("retry-after"));
    const interval = positiveNumber(answer.headers.get("x-hubspot-ratelimit-interval-milliseconds"));
    const delayMs = daily
      ? DAILY_RETRY_MS
      : retryAfter !== undefined
        ? retryAfter * 1000
        : (interval ?? ROLLING_RETRY_MS);
    return { kind: "rate-limited", daily, delayMs: Math.ceil(delayMs), reason };
  }
  if (status === 401 || status === 403) return { kind: "auth", reason };
  if (status === 404) return { kind: "not-found", reason };
  if (status >= 500 || status === 408 || status === 409 || status === 425)
    return { kind: "transient", reason };
  return { kind: "invalid", reason, body: answer.body };
}

/** A request that got no answer, as a failure (aborts are rethrown by the caller, not mapped). */
export function networkFailure(error: NetworkError): Failure {
  return { kind: "transient", reason: maskEmails(error.message) };
}
