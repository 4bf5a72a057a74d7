import { PayloadDecryptionError } from "../errors.ts";
import { BLOCK, encryptedBytes, payloadKeyBytes, plaintextOf } from "../payload-rules.ts";
import { subtle } from "./subtle.ts";

/**
 * Engage's optional payload encryption with the Web Crypto API: AES-256-CBC (PKCS#7 padding). The
 * key, encoding and plaintext rules are the Node entry's (payload-rules.ts, shared), so both accept
 * and refuse the same payloads for the same reasons; only the AES call differs.
 */

export { isValidPayloadKey } from "../payload-rules.ts";

/**
 * Decrypts an Engage payload string to its plaintext (UTF-8 text, normally JSON), returned exactly:
 * a leading U+FEFF is kept. Rejects with {@link PayloadDecryptionError}.
 */
export async function decryptPayloadAsync(data: string, key: string): Promise<string> {
  const secret = payloadKeyBytes(key);
  const raw = encryptedBytes(data);
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
  return plaintextOf(plain);
}
