/**
 * `@engage-bridge/core/web`: webhook verification and payload decryption for runtimes without
 * `node:crypto` or `Buffer` (Cloudflare Workers, Deno, Vercel Edge, browsers), on
 * `globalThis.crypto.subtle`. Nothing here imports a `node:` module.
 *
 * The verification rules and the error classes are shared with the Node entry (signature-rules.ts,
 * errors.ts, both free of `node:` imports): the same request passes or fails the same way, with the
 * same classes and `reason`s, on either entry.
 */

export {
  type DecryptionFailure,
  InvalidSecretError,
  PayloadDecryptionError,
  type VerificationFailureReason,
  WebhookVerificationError,
} from "../errors.ts";
export {
  type AddPointsData,
  type AddPointsEvent,
  type BalanceData,
  type BalanceUpdatedEvent,
  type EngageEvent,
  type EngageEventType,
  EventParseError,
  type EventParseFailure,
  isPreferenceEvent,
  KNOWN_EVENT_TYPES,
  type KnownEventType,
  LOYALTY_EVENT_TYPES,
  type ParseOptions,
  PREFERENCE_CHANNELS,
  PREFERENCE_EVENT_TYPES,
  type PreferenceChannel,
  type PreferenceData,
  type PreferenceEvent,
  type PreferenceEventType,
  type SafeParseResult,
  type UnknownEvent,
  type VoucherCreatedEvent,
  type VoucherData,
} from "../events-core.ts";
export { decryptPayloadAsync, isValidPayloadKey } from "./decrypt.ts";
export { parseEngageEventAsync, safeParseEngageEventAsync } from "./parse.ts";
export {
  createWebVerifier,
  DEFAULT_TOLERANCE_SECONDS,
  type HeaderBrand,
  type HeadersLike,
  MIN_SECRET_BYTES,
  signWebhookAsync,
  type VerifiedWebhook,
  type WebhookBody,
  type WebhookRequest,
  type WebVerifierOptions,
  type WebWebhookVerifier,
} from "./verify.ts";
