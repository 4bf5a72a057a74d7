import { decryptPayload } from "./decrypt.ts";
import {
  type EngageEvent,
  type ParseOptions,
  parseEngageEventWith,
  type SafeParseResult,
  safeParseEngageEventWith,
} from "./events-core.ts";

export * from "./events-core.ts";

/**
 * Turns a verified webhook body into a normalized {@link EngageEvent}, decrypting the payload first
 * when the envelope says it is encrypted. Throws `EventParseError`; see {@link safeParseEngageEvent}.
 */
export function parseEngageEvent(
  body: Uint8Array | string | object,
  options: ParseOptions = {},
): EngageEvent {
  return parseEngageEventWith(decryptPayload, body, options);
}

/** {@link parseEngageEvent} as `{ success, event | error }`: it throws nothing for any body. */
export function safeParseEngageEvent(
  body: Uint8Array | string | object,
  options: ParseOptions = {},
): SafeParseResult {
  return safeParseEngageEventWith(decryptPayload, body, options);
}
