import { InvalidSecretError, WebhookVerificationError } from "../errors.ts";
import {
  checkHeaders,
  checkSignTimestamp,
  decodeSecretBytes,
  encodeBase64,
  equalBytes,
  type HeadersLike,
  readOptions,
  type SignedParts,
  signedContent,
  type VerifiedWebhook,
  type VerifierOptions,
  type WebhookBody,
} from "../signature-rules.ts";
import { subtle } from "./subtle.ts";

/**
 * Svix / Standard Webhooks verification with the Web Crypto API, for runtimes without `node:crypto`
 * or `Buffer`. The rules are the Node verifier's (signature-rules.ts, shared); only the HMAC differs,
 * and it is async. `verifyRequest` checks the headers and the clock before reading the body.
 */

export {
  DEFAULT_TOLERANCE_SECONDS,
  type HeaderBrand,
  type HeadersLike,
  MIN_SECRET_BYTES,
  type VerifiedWebhook,
  type WebhookBody,
} from "../signature-rules.ts";
export { InvalidSecretError, WebhookVerificationError };

/** The options of the Node verifier. */
export type WebVerifierOptions = VerifierOptions;

/** What `verifyRequest` needs of a Fetch API `Request`. */
export interface WebhookRequest {
  readonly headers: { get(name: string): string | null };
  arrayBuffer(): Promise<ArrayBuffer>;
}

export interface WebWebhookVerifier {
  /** Resolves to the verified id and timestamp, or rejects with {@link WebhookVerificationError}. */
  verify(body: WebhookBody, headers: HeadersLike): Promise<VerifiedWebhook>;
  /**
   * Verifies a Fetch API `Request`, reading its body once (headers and timestamp are checked before
   * the body is read). Returns the raw body for parsing.
   */
  verifyRequest(request: WebhookRequest): Promise<{ webhook: VerifiedWebhook; body: Uint8Array }>;
}

const HMAC = { name: "HMAC", hash: "SHA-256" } as const;

function importHmacKey(raw: Uint8Array<ArrayBuffer>) {
  return subtle().importKey("raw", raw, HMAC, false, ["sign"]);
}

type HmacKey = Awaited<ReturnType<typeof importHmacKey>>;

async function hmac(key: HmacKey, content: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  return new Uint8Array(await subtle().sign(HMAC, key, content));
}

export function createWebVerifier(options: WebVerifierOptions): WebWebhookVerifier {
  // Decoded now, so that a bad secret fails at creation; imported into Web Crypto on first use.
  const { keys: rawKeys, tolerance, now } = readOptions(options);
  let imported: Promise<HmacKey[]> | undefined;
  const keys = () => {
    imported ??= Promise.all(rawKeys.map(importHmacKey)).catch((error: unknown) => {
      imported = undefined;
      throw error;
    });
    return imported;
  };

  async function checkSignature(parts: SignedParts, body: WebhookBody): Promise<VerifiedWebhook> {
    if (parts.candidates.length > 0) {
      const content = signedContent(parts.id, parts.timestampText, body);
      // Every key is tried against every entry so that timing does not reveal which one matched.
      let matched = false;
      for (const key of await keys()) {
        const expected = await hmac(key, content);
        for (const candidate of parts.candidates) {
          if (equalBytes(expected, candidate)) matched = true;
        }
      }
      if (matched) return { id: parts.id, timestamp: parts.timestamp, brand: parts.brand };
    }
    throw new WebhookVerificationError("no_matching_signature");
  }

  return {
    async verify(body, headers) {
      return checkSignature(checkHeaders(headers, tolerance, now()), body);
    },
    async verifyRequest(request) {
      const parts = checkHeaders(request.headers, tolerance, now());
      const body = new Uint8Array(await request.arrayBuffer());
      return { webhook: await checkSignature(parts, body), body };
    },
  };
}

/**
 * Signs like Svix does (`v1,<base64>`), with Web Crypto. For tests and tools; production signing is
 * Svix's job. A string timestamp is signed as written (its exact text).
 */
export async function signWebhookAsync(
  secret: string,
  id: string,
  timestamp: number | string,
  body: WebhookBody,
): Promise<string> {
  if (typeof timestamp === "number") checkSignTimestamp(timestamp);
  const key = await importHmacKey(decodeSecretBytes(secret, 0));
  return `v1,${encodeBase64(await hmac(key, signedContent(id, String(timestamp), body)))}`;
}
