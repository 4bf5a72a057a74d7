/**
 * A tiny base64 codec over Uint8Array, for runtimes without `Buffer` (Workers, Deno, Vercel Edge).
 * Decoding is as lenient as Node's `Buffer.from(text, "base64")` on the texts the Node entry lets
 * through (missing padding, non-zero padding bits), so that the same secrets and payloads are
 * accepted by both entries; callers that need the exact text compare {@link encodeBase64} of the
 * result with what they were given.
 */

const STANDARD = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Sextet value of each character code; -1 where the character is not base64. `-` and `_` are URL-safe. */
const SEXTET = new Int8Array(128).fill(-1);
for (let i = 0; i < STANDARD.length; i++) SEXTET[STANDARD.charCodeAt(i)] = i;
const URL_SAFE_62 = "-".charCodeAt(0);
const URL_SAFE_63 = "_".charCodeAt(0);

const STANDARD_TEXT = /^[A-Za-z0-9+/]*={0,2}$/;
const ANY_TEXT = /^[A-Za-z0-9+/_-]*={0,2}$/;

/** Standard base64 with `=` padding, as Svix writes signatures. */
export function encodeBase64(bytes: Uint8Array): string {
  let out = "";
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = ((bytes[i] ?? 0) << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    out += `${STANDARD[n >> 18]}${STANDARD[(n >> 12) & 63]}${STANDARD[(n >> 6) & 63]}${STANDARD[n & 63]}`;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = (bytes[i] ?? 0) << 16;
    out += `${STANDARD[n >> 18]}${STANDARD[(n >> 12) & 63]}==`;
  } else if (rest === 2) {
    const n = ((bytes[i] ?? 0) << 16) | ((bytes[i + 1] ?? 0) << 8);
    out += `${STANDARD[n >> 18]}${STANDARD[(n >> 12) & 63]}${STANDARD[(n >> 6) & 63]}=`;
  }
  return out;
}

/**
 * Decodes base64; `"any"` also accepts the URL-safe alphabet (`-`, `_`), mixed with the standard one
 * as Node's decoder does. Returns `undefined` for text that is not base64: other characters, more than
 * two `=` or `=` before the end, or a length of 4n+1. Missing padding is accepted, padding bits are
 * ignored, and a final lone character (after stripping `=`) carries no whole byte and is dropped.
 */
export function decodeBase64(
  text: string,
  alphabet: "standard" | "any" = "standard",
): Uint8Array<ArrayBuffer> | undefined {
  if (typeof text !== "string") return undefined;
  if (!(alphabet === "any" ? ANY_TEXT : STANDARD_TEXT).test(text) || text.length % 4 === 1) return undefined;
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 61 /* = */) end--;
  const out = new Uint8Array(Math.floor((end * 6) / 8));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < end; i++) {
    const code = text.charCodeAt(i);
    const value = code === URL_SAFE_62 ? 62 : code === URL_SAFE_63 ? 63 : (SEXTET[code] ?? -1);
    if (value < 0) return undefined;
    acc = ((acc << 6) | value) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}

/**
 * Whether `text` is exactly what {@link encodeBase64} writes for some bytes: standard alphabet, `=`
 * padding to a multiple of four, and zero padding bits. The same as comparing `encodeBase64` of
 * the decoded bytes with `text`, without building that string (the verifier asks this of every
 * signature it reads).
 */
export function isCanonicalBase64(text: string): boolean {
  if (text.length % 4 !== 0 || !STANDARD_TEXT.test(text)) return false;
  const padding = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
  if (padding === 0) return true;
  // The last character before the padding carries 2 (one `=`) or 4 (two) bits that no byte uses.
  const last = SEXTET[text.charCodeAt(text.length - padding - 1)] ?? -1;
  return (last & (padding === 1 ? 0b11 : 0b1111)) === 0;
}
