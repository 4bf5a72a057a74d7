import { secret } from "@engage-bridge/core";
import { z } from "zod";

/** HubSpot's legal bases for processing (required with an explanation on GDPR-enabled accounts). */
export const LEGAL_BASES = [
  "CONSENT_WITH_NOTICE",
  "LEGITIMATE_INTEREST_PQL",
  "LEGITIMATE_INTEREST_CLIENT",
  "LEGITIMATE_INTEREST_OTHER",
  "PERFORMANCE_OF_CONTRACT",
  "NON_GDPR",
  "PROCESS_AND_STORE",
] as const;

/** The block under `connectors.hubspot` (without `enabled` and `rateLimit`, which the gateway handles). */
export const hubspotConfigSchema = z.strictObject({
  /** A private app token or service key, sent as `Authorization: Bearer`. */
  accessToken: secret(z.string().min(1)),
  baseUrl: z.url().default("https://api.hubapi.com"),
  /** The date version of the Communication Preferences API. */
  apiVersion: z
    .string()
    .regex(/^\d{4}-\d{2}$/, "expected a date version such as 2026-03")
    .default("2026-03"),
  /** The subscription type (HubSpot's int64 id) whose status follows Engage's `acceptsEmail`. */
  subscriptionId: z.union([z.number().int().positive(), z.string().regex(/^\d+$/)]).transform(String),
  legalBasis: z.enum(LEGAL_BASES).default("CONSENT_WITH_NOTICE"),
  legalBasisExplanation: z.string().min(1).default("Preference changed in Voyado Engage"),
  /** `statuses/batch/write` (Marketing Hub Enterprise) instead of one request per change. */
  batch: z.boolean().default(false),
  /** A contact property that mirrors `acceptsSms` as "true"/"false" (HubSpot has no SMS consent channel). */
  smsProperty: z.string().min(1).optional(),
  /** A contact property that mirrors `acceptsPostal` as "true"/"false". */
  postalProperty: z.string().min(1).optional(),
});

export type HubSpotConfig = z.output<typeof hubspotConfigSchema>;
