import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { PayloadDecryptionError } from "./errors.ts";
import { BLOCK, encryptedBytes, payloadKeyBytes, plaintextOf } from "./payload-rules.ts";

export { type DecryptionFailure, PayloadDecryptionError } from "./errors.ts";

/**
 * Engage's optional payload encryption ("as with Soft identification"): AES-256-CBC keyed with the
 * UTF-8 bytes of a 32-character shared key, data = base64(IV ‖ ciphertext), URL-safe or standard.
 * There is no MAC: integrity comes from the Svix signature checked before this runs.
 */

export { isValidPayloadKey } from "./payload-rules.ts";

/** Decrypts an Engage payload string to its plaintext (UTF-8 text, normally JSON). */
export function decryptPayload(data: string, key: string): string {
  const secret = payloadKeyBytes(key);
  const raw = encryptedBytes(data);
  let plain: Buffer;
  try {
    const decipher = createDecipheriv("aes-256-cbc", secret, raw.subarray(0, BLOCK));
    plain = Buffer.concat([decipher.update(raw.subarray(BLOCK)), decipher.final()]);
  } catch {
    throw new PayloadDecryptionError("wrong_key_or_corrupt");
  }
  return plaintextOf(plain);
}

export interface EncryptOptions {
  /** 16-byte IV; random when absent. Fixed IVs are for reproducible fixtures only. */
  iv?: Uint8Array;
  /** Standard base64 with padding instead of Engage's URL-safe form. */
  standardBase64?: boolean;
}

/** The twin of {@link decryptPayload}, for tests and fixtures. */
export function encryptPayload(plaintext: string, key: string, options: EncryptOptions = {}): string {
  const iv = options.iv ?? randomBytes(BLOCK);
  if (iv.length !== BLOCK) throw new RangeError("iv must be 16 bytes");
  const cipher = createCipheriv("aes-256-cbc", payloadKeyBytes(key), iv);
  const out = Buffer.concat([iv, cipher.update(plaintext, "utf8"), cipher.final()]);
  return out.toString(options.standardBase64 ? "base64" : "base64url");
}
