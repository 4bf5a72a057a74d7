import { decryptPayload } from "@engage-bridge/core";

/** A stored body as the console shows it on demand: the envelope, its payload decrypted when it can be. */
export interface PayloadView {
  body: unknown;
  decrypted: boolean;
  /** Why the payload is not shown decrypted (never the key or the ciphertext). */
  note?: string;
}

const keyOf = (object: Record<string, unknown>, name: string) =>
  Object.keys(object).find((k) => k.toLowerCase() === name);

/**
 * Engage's `isEncrypted` envelopes carry the payload as AES text; with the source's `payloadKey` the
 * console shows it decrypted, in place, keys as Engage sent them.
 */
export function payloadView(stored: Uint8Array, payloadKey: string | undefined): PayloadView {
  const text = Buffer.from(stored).toString("utf8");
  let envelope: unknown;
  try {
    envelope = JSON.parse(text);
  } catch {
    return { body: text, decrypted: false, note: "the body is not JSON (stored as received)" };
  }
  if (envelope === null || typeof envelope !== "object" || Array.isArray(envelope))
    return { body: envelope, decrypted: false };
  const record = envelope as Record<string, unknown>;
  const flag = keyOf(record, "isencrypted");
  const field = keyOf(record, "payload");
  if (!flag || record[flag] !== true || !field || typeof record[field] !== "string")
    return { body: envelope, decrypted: false };
  if (!payloadKey)
    return { body: envelope, decrypted: false, note: "encrypted, and the source has no payloadKey" };
  try {
    const plain = decryptPayload(record[field] as string, payloadKey);
    let payload: unknown = plain;
    try {
      payload = JSON.parse(plain);
    } catch {
      // Shown as the text it decrypts to.
    }
    return { body: { ...record, [field]: payload }, decrypted: true };
  } catch {
    return { body: envelope, decrypted: false, note: "the source's payloadKey does not decrypt it" };
  }
}
