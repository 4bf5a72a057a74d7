import { PayloadDecryptionError } from "../errors.ts";
import {
  type EngageEvent,
  encryptedPayloadOf,
  type ParseOptions,
  parseEngageEventWith,
  type SafeParseResult,
  safeParseEngageEventWith,
} from "../events-core.ts";
import { decryptPayloadAsync } from "./decrypt.ts";

/**
 * Decrypts first (Web Crypto is async), then hands the plaintext to the one parser both entries
 * share, so events, failures and their reasons are the same as `parseEngageEvent`'s.
 */
async function decrypterFor(body: Uint8Array | string | object, options: ParseOptions) {
  const encrypted = options.payloadKey ? encryptedPayloadOf(body) : undefined;
  let plaintext: string | undefined;
  let failure: unknown;
  if (encrypted !== undefined && options.payloadKey) {
    try {
      plaintext = await decryptPayloadAsync(encrypted, options.payloadKey);
    } catch (error) {
      failure = error;
    }
  }
  return (data: string): string => {
    if (failure !== undefined) throw failure;
    if (plaintext === undefined || data !== encrypted) throw new PayloadDecryptionError("malformed_data");
    return plaintext;
  };
}

/** `parseEngageEvent` for runtimes without `node:crypto`: async because decryption is. */
export async function parseEngageEventAsync(
  body: Uint8Array | string | object,
  options: ParseOptions = {},
): Promise<EngageEvent> {
  return parseEngageEventWith(await decrypterFor(body, options), body, options);
}

/** `safeParseEngageEvent` for runtimes without `node:crypto`. */
export async function safeParseEngageEventAsync(
  body: Uint8Array | string | object,
  options: ParseOptions = {},
): Promise<SafeParseResult> {
  return safeParseEngageEventWith(await decrypterFor(body, options), body, options);
}
