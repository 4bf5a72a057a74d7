export {
  classify,
  createSheetsClient,
  type Failure,
  retryAfterMs,
  SHEETS_SCOPE,
  type SheetsClient,
} from "./client.ts";
export {
  DEFAULT_ROOT_URL,
  DEFAULT_SHEET_NAME,
  DEFAULT_TOKEN_URL,
  type GoogleSheetsConfig,
  type GoogleSheetsConfigInput,
  googleSheetsConfigSchema,
  loadServiceAccount,
  parseServiceAccount,
  type ServiceAccountCredentials,
} from "./config.ts";
export { a1, DEFAULT_RATE_LIMIT, endRow, googleSheetsConnector, MAX_BATCH_SIZE } from "./connector.ts";
export { type Cell, EVENT_ID_COLUMN, HEADER, type LoyaltyEvent, MAX_CELL_CHARS, toRow } from "./rows.ts";
