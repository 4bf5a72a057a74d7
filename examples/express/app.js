import { createVerifier, safeParseEngageEvent, WebhookVerificationError } from "@engage-bridge/core";
import express from "express";

/**
 * An Express app with one route, `POST /webhooks/engage`.
 * @param {object} options
 * @param {string[]} options.secrets Engage signing secrets (several during a rotation), with or without `whsec_`.
 * @param {string} [options.payloadKey] the 32-character key, when payload encryption is on.
 * @param {(event: import("@engage-bridge/core").EngageEvent) => unknown} options.onEvent stores the event.
 */
export function createApp({ secrets, payloadKey, onEvent }) {
  const verifier = createVerifier({ secrets });
  const app = express();

  // The signature covers the raw bytes: express.raw() on this route, never express.json()
  // (re-serialized JSON does not match the signature). type: () => true takes any content type.
  app.post("/webhooks/engage", express.raw({ type: () => true, limit: "1mb" }), async (req, res) => {
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    let messageId;
    try {
      messageId = verifier.verify(body, req.headers).id;
    } catch (error) {
      if (error instanceof WebhookVerificationError) {
        return res.status(401).json({ error: "invalid_signature", reason: error.reason });
      }
      throw error;
    }
    const parsed = safeParseEngageEvent(body, { messageId, payloadKey });
    if (!parsed.success) {
      // Genuine but unusable: acknowledge it anyway, or Svix retries it for a day.
      console.warn("engage webhook not parsed:", parsed.error.reason);
      return res.status(204).end();
    }
    // Store it before answering 2xx: Svix does not send it again once acknowledged. A throw here is a
    // 500 (Express 5 catches rejected handlers), and Svix retries.
    await onEvent(parsed.event);
    res.status(204).end();
  });

  return app;
}
