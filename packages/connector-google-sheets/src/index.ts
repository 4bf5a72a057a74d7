export {
  classify,
  createSheetsClient,
  type Failure,
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
  HEADER_MISMATCH_MODES,
  loadServiceAccount,
  parseServiceAccount,
  type ServiceAccountCredentials,
} from "./config.ts";
export {
  a1,
  DEFAULT_RATE_LIMIT,
  endRow,
  type GoogleSheetsState,
  googleSheetsConnector,
  HeaderMismatchError,
  MAX_BATCH_SIZE,
  type SheetState,
} from "./connector.ts";
export {
  type Cell,
  COLUMN_NAMES,
  type Column,
  type ColumnName,
  columnLetter,
  DEFAULT_COLUMNS,
  DEFAULT_LABELS,
  HEADER,
  type LoyaltyEvent,
  layoutOf,
  MAX_CELL_CHARS,
  type SheetLayout,
  toRow,
} from "./rows.ts";
