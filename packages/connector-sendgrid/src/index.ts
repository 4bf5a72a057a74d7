export {
  type AddAnswer,
  type FailureKind,
  type GroupCheck,
  type ListedAnswer,
  type SendGridAnswer,
  SendGridApi,
  SendGridError,
  sendgridMessage,
} from "./api.ts";
export { type SendGridConfig, type SendGridConfigInput, sendgridConfigSchema } from "./config.ts";
export {
  createSendGridConnector,
  GROUP_RECHECK_MS,
  LOOKUP_CONCURRENCY,
  MAX_ADDRESSES_PER_REQUEST,
  MAX_BATCH_SIZE,
  type SendGridConnectorOptions,
  type SendGridState,
  sendgridConnector,
  sendgridConnector as default,
} from "./connector.ts";
export {
  DEFAULT_WAIT_MS,
  EPOCH_THRESHOLD,
  MAX_HINT_MS,
  type RateLimitInfo,
  readRateLimit,
  resetDelayMs,
  waitAfter,
} from "./rate-limit.ts";
