export { DAILY_RETRY_MS, ROLLING_RETRY_MS } from "./answers.ts";
export { type HubSpotConfig, hubspotConfigSchema, LEGAL_BASES } from "./config.ts";
export {
  BATCH_SIZE,
  HUBSPOT_RATE_LIMIT,
  type HubSpotState,
  hubspot,
  hubspot as default,
  PROPERTY_RETRY_MS,
  UNKNOWN_CONTACT_RETRY_MS,
} from "./connector.ts";
