import { decodeBase64, encodeBase64, isCanonicalBase64 } from "./base64.ts";
import { InvalidSecretError, WebhookVerificationError } from "./errors.ts";

/**
 * The rules of Svix / Standard Webhooks verification that do not depend on how the HMAC is
 * computed: headers, timestamp, secrets and signature entries. The Node entry (`node:crypto`) and
 * the web entry (Web Crypto) both build on this one module, so they cannot drift apart. Nothing
 * here loads a `node:` module or uses `Buffer`.
 */

export const DEFAULT_TOLERANCE_SECONDS = 300;
/** Svix generates 24–64 random bytes; anything shorter is a configuration mistake or a forgery risk. */
export const MIN_SECRET_BYTES = 24;

/** Node's IncomingHttpHeaders, a plain record, or a Fetch API `Headers`. */
export type HeadersLike =
  | Record<string, string | readonly string[] | undefined>
  | { get(name: string): string | null };

export type HeaderBrand = "svix" | "webhook";

/** A raw request body as the frameworks hand it over: text, a Buffer/Uint8Array, or an ArrayBuffer. */
export type WebhookBody = string | Uint8Array | ArrayBuffer;

export interface VerifiedWebhook {
  /** The message id (`svix-id` / `webhook-id`): identical on every retry of one message. */
  id: string;
  /** Unix seconds of this delivery attempt. */
  timestamp: number;
  brand: HeaderBrand;
}

export interface VerifierOptions {
  /** One or more secrets, with or without the `whsec_` prefix. Several secrets allow rotation. */
  secrets: readonly string[];
  toleranceSeconds?: number;
  /** Clock in milliseconds; for tests. */
  now?: () => number;
}

/** The signed parts of a request whose headers and clock passed. */
export interface SignedParts {
  id: string;
  /** The timestamp header as sent: it is what was signed (leading zeros included). */
  timestampText: string;
  timestamp: number;
  brand: HeaderBrand;
  /** The decoded `v1` signatures worth comparing. */
  candidates: Uint8Array[];
}

const SECRET_PREFIX = "whsec_";
const INTEGER = /^[0-9]{1,12}$/;
const SIGNATURE_BYTES = 32;
const encoder = new TextEncoder();

/** The key bytes of a secret (`whsec_` optional); throws {@link InvalidSecretError} naming its position. */
export function decodeSecretBytes(secret: string, index = 0): Uint8Array<ArrayBuffer> {
  if (typeof secret !== "string") throw new InvalidSecretError(index, "is not a string");
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  const key = decodeBase64(encoded, "standard");
  if (!key) throw new InvalidSecretError(index, "is not base64 (expected whsec_<base64>)");
  if (key.length < MIN_SECRET_BYTES) {
    throw new InvalidSecretError(
      index,
      `decodes to ${key.length} bytes; at least ${MIN_SECRET_BYTES} are required`,
    );
  }
  return key;
}

/** Checks the options every verifier takes; returns the decoded keys and the tolerance. */
export function readOptions(options: VerifierOptions): {
  keys: Uint8Array<ArrayBuffer>[];
  tolerance: number;
  now: () => number;
} {
  if (!Array.isArray(options.secrets) || options.secrets.length === 0) {
    throw new InvalidSecretError(0, "is missing: at least one signing secret is required");
  }
  const keys = options.secrets.map((secret, index) => decodeSecretBytes(secret, index));
  // Only an absent tolerance means the default: null (or anything but an integer) is a mistake.
  const tolerance =
    options.toleranceSeconds === undefined ? DEFAULT_TOLERANCE_SECONDS : options.toleranceSeconds;
  if (!Number.isInteger(tolerance) || tolerance < 0) {
    throw new RangeError("toleranceSeconds must be a non-negative integer");
  }
  return { keys, tolerance, now: options.now ?? Date.now };
}

function readHeader(headers: HeadersLike, name: string): string | undefined {
  if (typeof (headers as { get?: unknown }).get === "function") {
    return (headers as { get(name: string): string | null }).get(name) ?? undefined;
  }
  const record = headers as Record<string, string | readonly string[] | undefined>;
  let value = record[name];
  if (value === undefined) {
    const wanted = name.toLowerCase();
    for (const key of Object.keys(record)) {
      if (key.toLowerCase() === wanted) {
        value = record[key];
        break;
      }
    }
  }
  if (Array.isArray(value)) return value.join(" ");
  return value as string | undefined;
}

function readBrand(headers: HeadersLike, brand: HeaderBrand) {
  const id = readHeader(headers, `${brand}-id`);
  const timestamp = readHeader(headers, `${brand}-timestamp`);
  const signature = readHeader(headers, `${brand}-signature`);
  return id && timestamp && signature ? { id, timestamp, signature } : undefined;
}

/**
 * The `v1` entries that are the canonical base64 of 32 bytes, decoded; other versions and other
 * spellings are skipped (the reference libraries compare base64 text, so the same bytes written
 * differently are no signature of theirs).
 */
function signatureCandidates(header: string): Uint8Array[] {
  const candidates: Uint8Array[] = [];
  for (const entry of header.split(" ")) {
    const comma = entry.indexOf(",");
    if (comma < 0 || entry.slice(0, comma) !== "v1") continue;
    const encoded = entry.slice(comma + 1);
    if (!isCanonicalBase64(encoded)) continue;
    const decoded = decodeBase64(encoded, "standard");
    if (decoded?.length === SIGNATURE_BYTES) candidates.push(decoded);
  }
  return candidates;
}

/**
 * Header and clock checks, before any body is read or hashed: throws {@link WebhookVerificationError}
 * (`missing_headers`, `malformed_timestamp`, `timestamp_too_old`, `timestamp_too_new`).
 */
export function checkHeaders(headers: HeadersLike, tolerance: number, nowMs: number): SignedParts {
  const brand: HeaderBrand = readBrand(headers, "svix") ? "svix" : "webhook";
  const parts = readBrand(headers, brand);
  if (!parts) throw new WebhookVerificationError("missing_headers");
  if (!INTEGER.test(parts.timestamp)) throw new WebhookVerificationError("malformed_timestamp");
  const timestamp = Number(parts.timestamp);
  const nowSeconds = Math.floor(nowMs / 1000);
  if (nowSeconds - timestamp > tolerance) throw new WebhookVerificationError("timestamp_too_old");
  if (timestamp - nowSeconds > tolerance) throw new WebhookVerificationError("timestamp_too_new");
  return {
    id: parts.id,
    timestampText: parts.timestamp,
    timestamp,
    brand,
    candidates: signatureCandidates(parts.signature),
  };
}

/** The bytes that were signed: text as UTF-8, binary as is (never re-decoded). */
export function bodyBytes(body: WebhookBody): Uint8Array {
  if (typeof body === "string") return encoder.encode(body);
  // By tag rather than instanceof, so that bytes from another realm (vm context, iframe) are accepted.
  const tag = Object.prototype.toString.call(body);
  if (tag === "[object Uint8Array]") return body as Uint8Array;
  if (tag === "[object ArrayBuffer]") return new Uint8Array(body as ArrayBuffer);
  throw new TypeError("body must be a string, a Uint8Array or an ArrayBuffer (the raw request body)");
}

/** `${id}.${timestamp}.` and the body in one buffer: the signed content. */
export function signedContent(id: string, timestampText: string, body: WebhookBody): Uint8Array<ArrayBuffer> {
  const prefix = encoder.encode(`${id}.${timestampText}.`);
  const payload = bodyBytes(body);
  const content = new Uint8Array(prefix.length + payload.length);
  content.set(prefix, 0);
  content.set(payload, prefix.length);
  return content;
}

/** A timestamp a signer may sign: integer seconds (the verifier refuses anything else). */
export function checkSignTimestamp(timestamp: number): void {
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new RangeError("timestamp must be a non-negative integer number of seconds");
  }
}

/** Compares every byte whatever the first difference, so that timing does not reveal it. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

export { encodeBase64 };
