/**
 * The error classes of verification and decryption, in a module that loads nothing else: the Node
 * entry (`node:crypto`) and the web entry (Web Crypto) throw the same classes, so `instanceof` works
 * with either.
 */

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

export type DecryptionFailure = "invalid_key" | "malformed_data" | "wrong_key_or_corrupt";

const DECRYPTION_MESSAGES: Record<DecryptionFailure, string> = {
  invalid_key: "payload key must be exactly 32 bytes (a 32-character key)",
  malformed_data: "encrypted payload is not base64 of IV and whole AES blocks",
  wrong_key_or_corrupt: "encrypted payload could not be decrypted: wrong key or corrupt data",
};

export class PayloadDecryptionError extends Error {
  override readonly name = "PayloadDecryptionError";
  readonly reason: DecryptionFailure;
  constructor(reason: DecryptionFailure) {
    super(DECRYPTION_MESSAGES[reason]);
    this.reason = reason;
  }
}
