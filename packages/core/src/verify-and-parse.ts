import { type EngageEvent, type ParseOptions, parseEngageEvent } from "./events.ts";
import type { HeadersLike, VerifiedWebhook, WebhookBody, WebhookVerifier } from "./verify.ts";

export interface VerifiedEvent {
  webhook: VerifiedWebhook;
  event: EngageEvent;
}

/**
 * Verifies a webhook and parses its body into a typed Engage event in one call. Throws
 * `WebhookVerificationError` (answer 401) or `EventParseError` (a verified body that is not an
 * Engage event: store it or acknowledge it, since Svix would otherwise retry it for a day).
 */
export function verifyAndParse(
  verifier: WebhookVerifier,
  body: WebhookBody,
  headers: HeadersLike,
  options: Omit<ParseOptions, "messageId"> = {},
): VerifiedEvent {
  const webhook = verifier.verify(body, headers);
  const bytes = typeof body === "string" || body instanceof Uint8Array ? body : new Uint8Array(body);
  return { webhook, event: parseEngageEvent(bytes, { ...options, messageId: webhook.id }) };
}

/** {@link verifyAndParse} for a Fetch API `Request`; also returns the body it read. */
export async function verifyRequestAndParse(
  verifier: WebhookVerifier,
  request: Request,
  options: Omit<ParseOptions, "messageId"> = {},
): Promise<VerifiedEvent & { body: Uint8Array }> {
  const { webhook, body } = await verifier.verifyRequest(request);
  return { webhook, body, event: parseEngageEvent(body, { ...options, messageId: webhook.id }) };
}
