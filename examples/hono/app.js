import { createVerifier, safeParseEngageEvent, WebhookVerificationError } from "@engage-bridge/core";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";

/**
 * A Hono app with one route, `POST /webhooks/engage`.
 * @param {object} options
 * @param {string[]} options.secrets Engage signing secrets (several during a rotation), with or without `whsec_`.
 * @param {string} [options.payloadKey] the 32-character key, when payload encryption is on.
 * @param {(event: import("@engage-bridge/core").EngageEvent) => unknown} options.onEvent stores the event.
 */
export function createApp({ secrets, payloadKey, onEvent }) {
  const verifier = createVerifier({ secrets });
  const app = new Hono();

  app.post("/webhooks/engage", bodyLimit({ maxSize: 1024 * 1024 }), async (c) => {
    let verified;
    try {
      // c.req.raw is the Fetch API Request, body unread: verifyRequest reads its raw bytes once.
      // Do not call c.req.json() or c.req.text() first (the signature covers the bytes, not a value).
      verified = await verifier.verifyRequest(c.req.raw);
    } catch (error) {
      if (error instanceof WebhookVerificationError) {
        return c.json({ error: "invalid_signature", reason: error.reason }, 401);
      }
      throw error;
    }
    const { webhook, body } = verified;
    const parsed = safeParseEngageEvent(body, { messageId: webhook.id, payloadKey });
    if (!parsed.success) {
      // Genuine but unusable: acknowledge it anyway, or Svix retries it for a day.
      console.warn("engage webhook not parsed:", parsed.error.reason);
      return c.body(null, 204);
    }
    // Store it before answering 2xx: Svix does not send it again once acknowledged.
    await onEvent(parsed.event);
    return c.body(null, 204);
  });

  return app;
}
