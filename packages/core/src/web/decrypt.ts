import { decodeBase64 } from "../base64.ts";
import { PayloadDecryptionError } from "../errors.ts";
import { subtle } from "./subtle.ts";

/**
 * Engage's optional payload encryption with the Web Crypto API: AES-256-CBC keyed with the UTF-8
 * bytes of a 32-character shared key, data = base64(IV ‖ ciphertext), URL-safe or standard, PKCS#7
 * padding. Same rules and failure reasons as the Node entry's `decryptPayload`.
 */

const KEY_BYTES = 32;
const BLOCK = 16;
const encoder = new TextEncoder();

function keyBytes(key: string): Uint8Array<ArrayBuffer> {
  const bytes = encoder.encode(typeof key === "string" ? key : "");
  if (bytes.length !== KEY_BYTES) throw new PayloadDecryptionError("invalid_key");
  return bytes;
}

/** Checks a payload key without decrypting anything (config validation). */
export function isValidPayloadKey(key: string): boolean {
  return typeof key === "string" && encoder.encode(key).length === KEY_BYTES;
}

/**
 * Decrypts an Engage payload string to its plaintext (UTF-8 text, normally JSON), returned exactly:
 * a leading U+FEFF is kept. Rejects with {@link PayloadDecryptionError}.
 */
export async function decryptPayloadAsync(data: string, key: string): Promise<string> {
  const secret = keyBytes(key);
  if (typeof data !== "string") throw new PayloadDecryptionError("malformed_data");
  const raw = decodeBase64(data.trim(), "any");
  if (!raw || raw.length < 2 * BLOCK || raw.length % BLOCK !== 0) {
    throw new PayloadDecryptionError("malformed_data");
  }
  // Outside the try: a runtime without Web Crypto is not a wrong key.
  const api = subtle();
  const aesKey = await api.importKey("raw", secret, { name: "AES-CBC" }, false, ["decrypt"]);
  let plain: ArrayBuffer;
  try {
    plain = await api.decrypt({ name: "AES-CBC", iv: raw.subarray(0, BLOCK) }, aesKey, raw.subarray(BLOCK));
  } catch {
    // Bad PKCS#7 padding: the usual sign of a wrong key or corrupt data.
    throw new PayloadDecryptionError("wrong_key_or_corrupt");
  }
  try {
    // ignoreBOM: the plaintext is returned exactly; a leading U+FEFF is the sender's, not ours to drop.
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(plain);
  } catch {
    throw new PayloadDecryptionError("wrong_key_or_corrupt");
  }
}
