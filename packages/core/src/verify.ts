import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from "node:crypto";
import { WebhookVerificationError } from "./errors.ts";
import {
  bodyBytes,
  checkHeaders,
  checkSignTimestamp,
  decodeSecretBytes,
  type HeadersLike,
  readOptions,
  type VerifiedWebhook,
  type VerifierOptions,
  type WebhookBody,
} from "./signature-rules.ts";

/**
 * Svix / Standard Webhooks verification over the raw request body, on `node:crypto`. The rules
 * (headers, timestamp, secrets, signature entries) live in signature-rules.ts, shared with the Web
 * Crypto verifier of `@engage-bridge/core/web`; only the HMAC is computed here.
 *
 * Not through `svix`'s `Webhook.verify`: that has a fixed 300 s tolerance, accepts timestamps like
 * `"1700000000abc"` (parseInt), decodes a Buffer body as UTF-8 before signing (not byte-exact),
 * cannot tell why a request failed, and accepts a key of any non-zero length. The signing scheme is
 * the same, and the tests check this verifier against `svix`'s own signer.
 */

export {
  InvalidSecretError,
  type VerificationFailureReason,
  WebhookVerificationError,
} from "./errors.ts";
export {
  DEFAULT_TOLERANCE_SECONDS,
  type HeaderBrand,
  type HeadersLike,
  MIN_SECRET_BYTES,
  type VerifiedWebhook,
  type VerifierOptions,
  type WebhookBody,
} from "./signature-rules.ts";

export interface WebhookVerifier {
  /** Returns the verified id and timestamp, or throws {@link WebhookVerificationError}. */
  verify(body: WebhookBody, headers: HeadersLike): VerifiedWebhook;
  /**
   * Verifies a Fetch API `Request` (Next.js route handlers, Hono, Bun, Deno, Workers): reads its
   * body once and returns it with the result, since the request's body cannot be read again.
   */
  verifyRequest(request: Request): Promise<{ webhook: VerifiedWebhook; body: Uint8Array }>;
}

/** The key bytes of a secret, with or without `whsec_`; throws `InvalidSecretError`. */
export function decodeSecret(secret: string, index = 0): Buffer {
  const bytes = decodeSecretBytes(secret, index);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function createVerifier(options: VerifierOptions): WebhookVerifier {
  const { keys: raw, tolerance, now } = readOptions(options);
  // Key objects made once: HMAC with a KeyObject skips re-importing the raw key on every request.
  const keys: KeyObject[] = raw.map((key) => createSecretKey(key));

  const verifier: WebhookVerifier = {
    verify(body, headers) {
      const parts = checkHeaders(headers, tolerance, now());
      if (parts.candidates.length > 0) {
        const prefix = `${parts.id}.${parts.timestampText}.`;
        const payload = bodyBytes(body);
        // Every key is tried against every entry so that timing does not reveal which one matched.
        let matched = false;
        for (const key of keys) {
          const expected = createHmac("sha256", key).update(prefix).update(payload).digest();
          for (const candidate of parts.candidates) {
            if (timingSafeEqual(expected, candidate)) matched = true;
          }
        }
        if (matched) return { id: parts.id, timestamp: parts.timestamp, brand: parts.brand };
      }
      throw new WebhookVerificationError("no_matching_signature");
    },
    async verifyRequest(request) {
      const body = new Uint8Array(await request.arrayBuffer());
      return { webhook: verifier.verify(body, request.headers), body };
    },
  };
  return verifier;
}

/** Signs like Svix does (`v1,<base64>`). For tests and tools; production signing is Svix's job. */
export function signWebhook(secret: string, id: string, timestamp: number, body: WebhookBody): string {
  checkSignTimestamp(timestamp);
  const key = decodeSecret(secret);
  return `v1,${createHmac("sha256", key).update(`${id}.${timestamp}.`).update(bodyBytes(body)).digest("base64")}`;
}
