import { createHash, timingSafeEqual } from "node:crypto";
import { createVerifier, type WebhookVerifier } from "@engage-bridge/core";
import type { SourceConfig } from "../config/schema.ts";
import { createIpMatcher } from "./ip-allowlist.ts";
import { TokenBucket } from "./token-bucket.ts";

/** Everything the ingest route needs for one source, prepared once at start-up. */
export interface PreparedSource {
  name: string;
  verifier: WebhookVerifier;
  ipAllowed: ((ip: string | undefined) => boolean) | undefined;
  requiredHeaders: readonly { name: string; digest: Buffer }[];
  bucket: TokenBucket | undefined;
  payloadKey: string | undefined;
}

const digest = (value: string) => createHash("sha256").update(value, "utf8").digest();

export function prepareSource(name: string, config: SourceConfig): PreparedSource {
  return {
    name,
    verifier: createVerifier({ secrets: config.signingSecrets, toleranceSeconds: config.toleranceSeconds }),
    ipAllowed: config.allowedIps ? createIpMatcher(config.allowedIps) : undefined,
    requiredHeaders: Object.entries(config.requiredHeaders ?? {}).map(([header, value]) => ({
      name: header.toLowerCase(),
      digest: digest(value),
    })),
    bucket: config.rateLimit ? new TokenBucket(config.rateLimit) : undefined,
    payloadKey: config.payloadKey,
  };
}

/**
 * Compares configured header values in constant time: both sides are hashed first, so neither the
 * length nor the content of the expected value leaks through timing. Every header is checked.
 */
export function requiredHeadersMatch(
  source: PreparedSource,
  headers: Record<string, string | string[] | undefined>,
): boolean {
  let ok = true;
  for (const required of source.requiredHeaders) {
    const value = headers[required.name];
    const given = typeof value === "string" ? value : "";
    if (!timingSafeEqual(digest(given), required.digest) || typeof value !== "string") ok = false;
  }
  return ok;
}
