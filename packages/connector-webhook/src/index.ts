export {
  isLoopbackHost,
  RESERVED_HEADERS,
  type WebhookConfig,
  type WebhookConfigInput,
  webhookConfigSchema,
} from "./config.ts";
export {
  answerReason,
  batchIdFor,
  createState,
  type ForwardedEvent,
  forwardedEvent,
  MAX_BATCH_SIZE,
  networkReason,
  USER_AGENT,
  WEBHOOK_RATE_LIMIT,
  type WebhookState,
  webhook,
  webhook as default,
  webhookIdFor,
} from "./connector.ts";
export { VERSION } from "./version.ts";
