import { createServer } from "node:http";
import { createVerifier, safeParseEngageEvent, WebhookVerificationError } from "@engage-bridge/core";

const BODY_LIMIT = 1024 * 1024;

/**
 * A node:http server answering `POST /webhooks/engage`.
 * @param {object} options
 * @param {string[]} options.secrets Engage signing secrets (several during a rotation), with or without `whsec_`.
 * @param {string} [options.payloadKey] the 32-character key, when payload encryption is on.
 * @param {(event: import("@engage-bridge/core").EngageEvent) => unknown} options.onEvent stores the event.
 */
export function createWebhookServer({ secrets, payloadKey, onEvent }) {
  const verifier = createVerifier({ secrets });

  return createServer(async (req, res) => {
    const reply = (status, json) =>
      json === undefined
        ? res.writeHead(status).end()
        : res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(json));
    if (req.method !== "POST" || req.url !== "/webhooks/engage") return reply(404, { error: "not_found" });
    try {
      // The signature covers the raw bytes: collect the chunks as they came, decode nothing.
      const chunks = [];
      let size = 0;
      for await (const chunk of req) {
        size += chunk.length;
        if (size <= BODY_LIMIT) chunks.push(chunk); // past the limit: drain, keep nothing
      }
      if (size > BODY_LIMIT) return reply(413, { error: "body_too_large" });
      const body = Buffer.concat(chunks);

      const { id: messageId } = verifier.verify(body, req.headers);
      const parsed = safeParseEngageEvent(body, { messageId, payloadKey });
      if (!parsed.success) {
        // Genuine but unusable: acknowledge it anyway, or Svix retries it for a day.
        console.warn("engage webhook not parsed:", parsed.error.reason);
        return reply(204);
      }
      // Store it before answering 2xx: Svix does not send it again once acknowledged.
      await onEvent(parsed.event);
      return reply(204);
    } catch (error) {
      if (error instanceof WebhookVerificationError) {
        return reply(401, { error: "invalid_signature", reason: error.reason });
      }
      console.error(error); // a 5xx: Svix retries
      return reply(500, { error: "internal" });
    }
  });
}
