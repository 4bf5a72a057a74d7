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
export const hubspotConfigSchema = z
  .strictObject({
    accessToken: secret(z.string().min(1)).describe(
      "HubSpot private app token or service key, sent as `Authorization: Bearer` (secret). It needs the " +
        "Communication Preferences scopes, plus CRM contact scopes with `smsProperty`/`postalProperty` " +
        "(see the connector's README).",
    ),
    baseUrl: z
      .url()
      .default("https://api.hubapi.com")
      .describe(
        "HubSpot API root URL (default `https://api.hubapi.com`); change it only for a proxy or a test " +
          "fake.",
      ),
    apiVersion: z
      .string()
      .regex(/^\d{4}-\d{2}$/, "expected a date version such as 2026-03")
      .default("2026-03")
      .describe(
        "Date version of the Communication Preferences API, `YYYY-MM` (default `2026-03`). A version " +
          "HubSpot does not know stops the gateway at start-up.",
      ),
    subscriptionId: z
      .union([z.number().int().positive(), z.string().regex(/^\d+$/)])
      .transform(String)
      .describe(
        "The subscription type whose email status follows Engage's `acceptsEmail`: HubSpot's numeric id, " +
          "as a number or a digit string. Checked against the account's subscription types at start-up.",
      ),
    legalBasis: z
      .enum(LEGAL_BASES)
      .default("CONSENT_WITH_NOTICE")
      .describe(
        "Legal basis for processing sent with every status change (required on GDPR-enabled accounts); " +
          "default `CONSENT_WITH_NOTICE`.",
      ),
    legalBasisExplanation: z
      .string()
      .min(1)
      .default("Preference changed in Voyado Engage")
      .describe(
        "Explanation sent with the legal basis (required with it on GDPR-enabled accounts); default " +
          "`Preference changed in Voyado Engage`.",
      ),
    batch: z
      .boolean()
      .default(false)
      .describe(
        "`true`: write email statuses with `statuses/batch/write`, up to 100 changes per request " +
          "(Marketing Hub Enterprise only; scope `communication_preferences.statuses.batch.write`). " +
          "Default `false`: one request per change.",
      ),
    smsProperty: z
      .string()
      .min(1)
      .optional()
      .describe(
        'Internal name of a contact property that mirrors Engage\'s `acceptsSms` as `"true"`/`"false"` ' +
          "(HubSpot has no SMS consent channel); it must exist and accept those values (checked at " +
          "start-up). Absent = SMS changes are skipped.",
      ),
    postalProperty: z
      .string()
      .min(1)
      .optional()
      .describe(
        "Internal name of a contact property that mirrors Engage's `acceptsPostal` as " +
          '`"true"`/`"false"`; it must exist and accept those values (checked at start-up). Absent = ' +
          "postal changes are skipped.",
      ),
  })
  .describe(
    "HubSpot: Engage email preference changes become subscription statuses (Communication Preferences " +
      "API), and SMS/postal changes can be mirrored into contact properties. The source needs `engageApi` " +
      "(HubSpot knows subscribers by email); events without it are skipped.",
  );

export type HubSpotConfig = z.output<typeof hubspotConfigSchema>;
