import { decodeBase64 } from "./base64.ts";
import { PayloadDecryptionError } from "./errors.ts";

/**
 * The rules of Engage's payload encryption that do not depend on how AES is computed: the key, the
 * data's encoding and the plaintext. `decryptPayload` (node:crypto) and `decryptPayloadAsync` (Web
 * Crypto) both build on this module. Nothing here loads a `node:` module.
 */

const KEY_BYTES = 32;
/** The AES block (and IV) size. */
export const BLOCK = 16;
const encoder = new TextEncoder();

/** The key's UTF-8 bytes (no derivation); throws `invalid_key` unless there are exactly 32. */
export function payloadKeyBytes(key: string): Uint8Array<ArrayBuffer> {
  const bytes = encoder.encode(typeof key === "string" ? key : "");
  if (bytes.length !== KEY_BYTES) throw new PayloadDecryptionError("invalid_key");
  return bytes;
}

/** Checks a payload key without decrypting anything (config validation). */
export function isValidPayloadKey(key: string): boolean {
  return typeof key === "string" && encoder.encode(key).length === KEY_BYTES;
}

/**
 * `IV ‖ ciphertext` from the payload text: base64, URL-safe or standard, surrounding blanks ignored;
 * throws `malformed_data` unless it is an IV and at least one whole block.
 */
export function encryptedBytes(data: string): Uint8Array<ArrayBuffer> {
  if (typeof data !== "string") throw new PayloadDecryptionError("malformed_data");
  const raw = decodeBase64(data.trim(), "any");
  if (!raw || raw.length < 2 * BLOCK || raw.length % BLOCK !== 0)
    throw new PayloadDecryptionError("malformed_data");
  return raw;
}

/** The plaintext, exactly: a leading U+FEFF is the sender's, not ours to drop. Bad UTF-8 = wrong key. */
export function plaintextOf(bytes: Uint8Array | ArrayBuffer): string {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new PayloadDecryptionError("wrong_key_or_corrupt");
  }
}
