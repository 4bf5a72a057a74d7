import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { PayloadDecryptionError } from "./errors.ts";

export { type DecryptionFailure, PayloadDecryptionError } from "./errors.ts";

/**
 * Engage's optional payload encryption ("as with Soft identification"): AES-256-CBC keyed with the
 * UTF-8 bytes of a 32-character shared key, data = base64(IV ‖ ciphertext), URL-safe or standard.
 * There is no MAC: integrity comes from the Svix signature checked before this runs.
 */

const KEY_BYTES = 32;
const BLOCK = 16;
const BASE64_ANY = /^[A-Za-z0-9+/_-]*={0,2}$/;

function keyBytes(key: string): Buffer {
  const bytes = Buffer.from(typeof key === "string" ? key : "", "utf8");
  if (bytes.length !== KEY_BYTES) throw new PayloadDecryptionError("invalid_key");
  return bytes;
}

/** Checks a payload key without decrypting anything (config validation). */
export function isValidPayloadKey(key: string): boolean {
  return typeof key === "string" && Buffer.byteLength(key, "utf8") === KEY_BYTES;
}

function decodeBase64(data: string): Buffer {
  const trimmed = data.trim();
  if (!BASE64_ANY.test(trimmed) || trimmed.length % 4 === 1)
    throw new PayloadDecryptionError("malformed_data");
  // Buffer's base64 decoder accepts both alphabets and missing padding.
  return Buffer.from(trimmed, "base64");
}

/** Decrypts an Engage payload string to its plaintext (UTF-8 text, normally JSON). */
export function decryptPayload(data: string, key: string): string {
  const secret = keyBytes(key);
  if (typeof data !== "string") throw new PayloadDecryptionError("malformed_data");
  const raw = decodeBase64(data);
  if (raw.length < 2 * BLOCK || raw.length % BLOCK !== 0) throw new PayloadDecryptionError("malformed_data");
  let plain: Buffer;
  try {
    const decipher = createDecipheriv("aes-256-cbc", secret, raw.subarray(0, BLOCK));
    plain = Buffer.concat([decipher.update(raw.subarray(BLOCK)), decipher.final()]);
  } catch {
    throw new PayloadDecryptionError("wrong_key_or_corrupt");
  }
  try {
    // ignoreBOM: the plaintext is returned exactly; a leading U+FEFF is the sender's, not ours to drop.
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(plain);
  } catch {
    throw new PayloadDecryptionError("wrong_key_or_corrupt");
  }
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
  const cipher = createCipheriv("aes-256-cbc", keyBytes(key), iv);
  const out = Buffer.concat([iv, cipher.update(plaintext, "utf8"), cipher.final()]);
  return out.toString(options.standardBase64 ? "base64" : "base64url");
}
