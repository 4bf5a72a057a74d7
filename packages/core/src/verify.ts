import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from "node:crypto";

/**
 * Svix / Standard Webhooks verification over the raw request body.
 *
 * The HMAC is computed here with node:crypto rather than through `svix`'s `Webhook.verify`, because
 * that implementation has a fixed 300 s tolerance, accepts timestamps like `"1700000000abc"`
 * (parseInt), decodes a Buffer body as UTF-8 before signing (not byte-exact), cannot tell why a
 * request failed, and accepts a key of any non-zero length. The signing scheme itself is the same,
 * and the tests check this verifier against `svix`'s own signer.
 */

export const DEFAULT_TOLERANCE_SECONDS = 300;
/** Svix generates 24–64 random bytes; anything shorter is a configuration mistake or a forgery risk. */
export const MIN_SECRET_BYTES = 24;

export type VerificationFailureReason =
  | "missing_headers"
  | "malformed_timestamp"
  | "timestamp_too_old"
  | "timestamp_too_new"
  | "no_matching_signature";

const REASON_MESSAGES: Record<VerificationFailureReason, string> = {
  missing_headers: "missing webhook id, timestamp or signature header",
  malformed_timestamp: "webhook timestamp is not an integer number of seconds",
  timestamp_too_old: "webhook timestamp is older than the tolerance",
  timestamp_too_new: "webhook timestamp is further in the future than the tolerance",
  no_matching_signature: "no signature matches any configured secret",
};

/** A request that did not pass verification. `reason` is stable and safe to log or count. */
export class WebhookVerificationError extends Error {
  override readonly name = "WebhookVerificationError";
  readonly reason: VerificationFailureReason;
  constructor(reason: VerificationFailureReason) {
    super(REASON_MESSAGES[reason]);
    this.reason = reason;
  }
}

/** A signing secret that can never verify safely; thrown when the verifier is created. */
export class InvalidSecretError extends Error {
  override readonly name = "InvalidSecretError";
  /** Position of the offending secret in the list given to the verifier. */
  readonly index: number;
  constructor(index: number, problem: string) {
    super(`signing secret #${index + 1} ${problem}`);
    this.index = index;
  }
}

/** Node's IncomingHttpHeaders, a plain record, or a Fetch API `Headers`. */
export type HeadersLike =
  | Record<string, string | readonly string[] | undefined>
  | { get(name: string): string | null };

export type HeaderBrand = "svix" | "webhook";

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

/** A raw request body as the frameworks hand it over: text, a Buffer/Uint8Array, or an ArrayBuffer. */
export type WebhookBody = string | Uint8Array | ArrayBuffer;

export interface WebhookVerifier {
  /** Returns the verified id and timestamp, or throws {@link WebhookVerificationError}. */
  verify(body: WebhookBody, headers: HeadersLike): VerifiedWebhook;
  /**
   * Verifies a Fetch API `Request` (Next.js route handlers, Hono, Bun, Deno, Workers): reads its
   * body once and returns it with the result, since the request's body cannot be read again.
   */
  verifyRequest(request: Request): Promise<{ webhook: VerifiedWebhook; body: Uint8Array }>;
}

const SECRET_PREFIX = "whsec_";
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const INTEGER = /^[0-9]{1,12}$/;
const SIGNATURE_BYTES = 32;

export function decodeSecret(secret: string, index = 0): Buffer {
  if (typeof secret !== "string") throw new InvalidSecretError(index, "is not a string");
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  if (!BASE64.test(encoded) || encoded.length % 4 === 1) {
    throw new InvalidSecretError(index, "is not base64 (expected whsec_<base64>)");
  }
  const key = Buffer.from(encoded, "base64");
  if (key.length < MIN_SECRET_BYTES) {
    throw new InvalidSecretError(
      index,
      `decodes to ${key.length} bytes; at least ${MIN_SECRET_BYTES} are required`,
    );
  }
  return key;
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

export function createVerifier(options: VerifierOptions): WebhookVerifier {
  if (!Array.isArray(options.secrets) || options.secrets.length === 0) {
    throw new InvalidSecretError(0, "is missing: at least one signing secret is required");
  }
  // Key objects made once: HMAC with a KeyObject skips re-importing the raw key on every request.
  const keys: KeyObject[] = options.secrets.map((secret, index) =>
    createSecretKey(decodeSecret(secret, index)),
  );
  // Only an absent tolerance means the default: null (or anything but an integer) is a mistake.
  const tolerance =
    options.toleranceSeconds === undefined ? DEFAULT_TOLERANCE_SECONDS : options.toleranceSeconds;
  if (!Number.isInteger(tolerance) || tolerance < 0) {
    throw new RangeError("toleranceSeconds must be a non-negative integer");
  }
  const now = options.now ?? Date.now;

  const verifier: WebhookVerifier = {
    verify(body, headers) {
      const brand: HeaderBrand = readBrand(headers, "svix") ? "svix" : "webhook";
      const parts = readBrand(headers, brand);
      if (!parts) throw new WebhookVerificationError("missing_headers");
      if (!INTEGER.test(parts.timestamp)) throw new WebhookVerificationError("malformed_timestamp");
      const timestamp = Number(parts.timestamp);
      const nowSeconds = Math.floor(now() / 1000);
      if (nowSeconds - timestamp > tolerance) throw new WebhookVerificationError("timestamp_too_old");
      if (timestamp - nowSeconds > tolerance) throw new WebhookVerificationError("timestamp_too_new");

      const candidates: Buffer[] = [];
      for (const entry of parts.signature.split(" ")) {
        const comma = entry.indexOf(",");
        if (comma < 0 || entry.slice(0, comma) !== "v1") continue;
        const encoded = entry.slice(comma + 1);
        if (!BASE64.test(encoded)) continue;
        const decoded = Buffer.from(encoded, "base64");
        // Only the canonical encoding: the reference libraries compare base64 text, so another
        // spelling of the same bytes (padding bits set, padding missing) is no signature of theirs.
        if (decoded.length === SIGNATURE_BYTES && decoded.toString("base64") === encoded)
          candidates.push(decoded);
      }
      if (candidates.length > 0) {
        const prefix = `${parts.id}.${parts.timestamp}.`;
        const payload = bytesOf(body);
        // Every key is tried against every entry so that timing does not reveal which one matched.
        let matched = false;
        for (const key of keys) {
          const expected = createHmac("sha256", key).update(prefix).update(payload).digest();
          for (const candidate of candidates) {
            if (timingSafeEqual(expected, candidate)) matched = true;
          }
        }
        if (matched) return { id: parts.id, timestamp, brand };
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

/** The bytes that were signed: text as UTF-8, binary as is (never re-decoded). */
function bytesOf(body: WebhookBody): Uint8Array {
  if (typeof body === "string") return Buffer.from(body, "utf8");
  if (body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  throw new TypeError("body must be a string, a Uint8Array/Buffer or an ArrayBuffer (the raw request body)");
}

/** Signs like Svix does (`v1,<base64>`). For tests and tools; production signing is Svix's job. */
export function signWebhook(secret: string, id: string, timestamp: number, body: WebhookBody): string {
  // The verifier accepts integer seconds only: a signature over anything else could never verify.
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new RangeError("timestamp must be a non-negative integer number of seconds");
  }
  const key = decodeSecret(secret);
  const payload = bytesOf(body);
  return `v1,${createHmac("sha256", key).update(`${id}.${timestamp}.`).update(payload).digest("base64")}`;
}
