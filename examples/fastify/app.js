import { createVerifier, safeParseEngageEvent, WebhookVerificationError } from "@engage-bridge/core";
import Fastify from "fastify";

/**
 * A Fastify app with one route, `POST /webhooks/engage`; the rest of the app keeps Fastify's JSON parsing.
 * @param {object} options
 * @param {string[]} options.secrets Engage signing secrets (several during a rotation), with or without `whsec_`.
 * @param {string} [options.payloadKey] the 32-character key, when payload encryption is on.
 * @param {(event: import("@engage-bridge/core").EngageEvent) => unknown} options.onEvent stores the event.
 * @param {boolean} [options.logger] Fastify's logger.
 */
export function createApp({ secrets, payloadKey, onEvent, logger = false }) {
  const verifier = createVerifier({ secrets });
  const app = Fastify({ logger });

  // The signature covers the raw bytes, but Fastify parses application/json into an object before the
  // handler runs, and JSON.stringify(request.body) is not the signed text. A '*' parser alone does not
  // help: it only catches content types that have no parser, and application/json has one. So, in an
  // encapsulated plugin (this route only), remove every parser and take every body as a Buffer.
  app.register(async (webhooks) => {
    webhooks.removeAllContentTypeParsers();
    webhooks.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: 1024 * 1024 }, (_req, body, done) =>
      done(null, body),
    );

    webhooks.post("/webhooks/engage", async (request, reply) => {
      const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      let messageId;
      try {
        messageId = verifier.verify(body, request.headers).id;
      } catch (error) {
        if (error instanceof WebhookVerificationError) {
          return reply.code(401).send({ error: "invalid_signature", reason: error.reason });
        }
        throw error;
      }
      const parsed = safeParseEngageEvent(body, { messageId, payloadKey });
      if (!parsed.success) {
        // Genuine but unusable: acknowledge it anyway, or Svix retries it for a day.
        request.log.warn({ reason: parsed.error.reason }, "engage webhook not parsed");
        return reply.code(204).send();
      }
      // Store it before answering 2xx: Svix does not send it again once acknowledged.
      await onEvent(parsed.event);
      return reply.code(204).send();
    });
  });

  return app;
}
