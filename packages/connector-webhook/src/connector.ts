import { createHash } from "node:crypto";
import {
  type ConnectorHealth,
  type DeliveryItem,
  type DeliveryResult,
  dead,
  defineConnector,
  delivered,
  type HttpVerdict,
  httpVerdict,
  KNOWN_EVENT_TYPES,
  maskEmails,
  PermanentError,
  RetryableError,
  retry,
  signWebhook,
  throwForVerdict,
} from "@engage-bridge/core";
import { type WebhookConfig, webhookConfigSchema } from "./config.ts";
import { VERSION } from "./version.ts";

/**
 * Forwards Engage events to any HTTPS endpoint (an ERP, a data warehouse's ingest, a Lambda), signed
 * per Standard Webhooks (https://www.standardwebhooks.com/): `webhook-id`, `webhook-timestamp` (unix
 * seconds of the attempt) and `webhook-signature` = `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`
 * keyed with the base64-decoded secret after `whsec_`. The `svix` and `standardwebhooks` libraries
 * verify it as it is.
 *
 * Not `convergentConsent`: a forwarder sends every event as it was received, under its own id, and the
 * receiver decides what an older preference change means.
 */

/** Largest batch: events per request in batch mode (100 events are ~50–200 kB of JSON). */
export const MAX_BATCH_SIZE = 100;

/**
 * Default pace, 50 requests per second. The receiver's capacity is unknown (a Lambda's reserved
 * concurrency, an ERP's API quota): after an outage the gateway catches up on its whole backlog, and
 * without a ceiling it would send as fast as the receiver answers. 50/s is far above Engage's usual
 * event rate (and 5,000 events/s in batch mode), so it only shapes such bursts. Operators set
 * `rateLimit` for a receiver that takes more or less; a 429 slows the connector down on its own.
 */
export const WEBHOOK_RATE_LIMIT = { requests: 50, perSeconds: 1 } as const;

/** `user-agent` of every request. */
export const USER_AGENT = `engage-bridge-webhook/${VERSION}`;

/** Longest extract of an answer's body in a reason (stored and shown to operators). */
const MAX_ANSWER_CHARS = 200;
/** Bytes of an error answer read to make that extract; the rest is not downloaded. */
const MAX_ANSWER_BYTES = 1024;

/** One event as the receiver gets it (the body in single mode, an element of the array in batch mode). */
export interface ForwardedEvent {
  /** The Engage event id (`id ?? eventId ?? svix-id` of the envelope): the key to deduplicate on. */
  id: string;
  /** The event type exactly as Engage sent it, e.g. `contact.acceptsEmail.changed`. */
  type: string;
  tenant: string | null;
  contactId: string | null;
  /** Whether Engage sent the payload encrypted; `payload` is then the decrypted one. */
  encrypted: boolean;
  /** The payload as received (after decryption), unknown fields included. */
  payload: unknown;
  /** When the gateway stored the event (ISO 8601). */
  receivedAt: string;
}

/**
 * What `init` builds for one configured instance; every `deliver` of that instance gets it as
 * `ctx.state`. Two instances (two receivers, or one receiver with two secrets) never share it.
 */
export interface WebhookState {
  /** The URL requests go to, without credentials (sent as `authorization` instead) or fragment. */
  readonly endpoint: string;
  /** The signing secret as configured (`whsec_…`, validated); core's `signWebhook` signs with it. */
  readonly secret: string;
  /** Headers every request carries: content type, user agent, the configured ones, Basic credentials. */
  readonly headers: Readonly<Record<string, string>>;
  /** Texts never to show in a reason: the secret, the configured header values, URL credentials. */
  readonly hidden: readonly string[];
  readonly batch: boolean;
}

/** The instance's state from its config; sends nothing. */
export function createState(config: WebhookConfig): WebhookState {
  const url = new URL(config.url);
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "user-agent": USER_AGENT,
  };
  // The secret is never sent, but a receiver could quote it back in an error.
  const hidden: string[] = [config.secret, config.secret.replace(/^whsec_/, "")];
  for (const [name, value] of Object.entries(config.headers ?? {})) {
    headers[name.toLowerCase()] = value;
    hidden.push(value);
  }
  if (url.username !== "" || url.password !== "") {
    // fetch refuses a URL with credentials: send them the way a browser or curl would.
    const user = decodeURIComponent(url.username);
    const password = decodeURIComponent(url.password);
    headers.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
    hidden.push(url.username, url.password, user, password, headers.authorization);
    url.username = "";
    url.password = "";
  }
  url.hash = "";
  return {
    endpoint: url.href,
    secret: config.secret,
    headers,
    hidden: hidden.filter((text) => text.length >= 4),
    batch: config.batch,
  };
}

/** The body of one event, as the receiver gets it. */
export function forwardedEvent(item: DeliveryItem): ForwardedEvent {
  const { event } = item;
  return {
    id: event.id,
    type: event.eventType,
    tenant: event.tenant ?? null,
    contactId: event.contactId ?? null,
    encrypted: event.encrypted,
    payload: event.payload ?? null,
    receivedAt: item.receivedAt.toISOString(),
  };
}

/** A `webhook-id` may not hold a `.` (the signed content is `id.timestamp.body`) nor break a header. */
const SAFE_ID = /^[A-Za-z0-9_:-]{1,200}$/;

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex").slice(0, 32);

/**
 * `webhook-id` of a single event: its Engage id, the same on every retry, so that the receiver can
 * deduplicate. An id that could not travel safely (a `.`, a space, over 200 characters) becomes
 * `evt_` + a hash of it: stable too, and the body's `id` still carries the id itself.
 */
export function webhookIdFor(eventId: string): string {
  return SAFE_ID.test(eventId) ? eventId : `evt_${sha256(eventId)}`;
}

/**
 * `webhook-id` of a batch: `batch_` + a hash of its deliveries' ids, in order. A retry of the same
 * batch keeps it; a batch put together differently gets another one, so receivers deduplicate by each
 * element's `id`.
 */
export function batchIdFor(items: readonly DeliveryItem[]): string {
  return `batch_${sha256(items.map((i) => i.deliveryId).join("\n"))}`;
}

/** Removes credentials and queries from URLs in a text, and configured secrets anywhere in it. */
function scrub(text: string, hidden: readonly string[]): string {
  let out = text
    .replace(/([a-z][a-z0-9+.-]*:\/\/)[^\s/@]*@/gi, "$1")
    .replace(/(https?:\/\/[^\s?#]*)\?\S*/gi, "$1?…");
  for (const secret of hidden) out = out.split(secret).join("****");
  return maskEmails(out);
}

function shorten(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > MAX_ANSWER_CHARS ? `${flat.slice(0, MAX_ANSWER_CHARS - 1)}…` : flat;
}

/** The first bytes of an answer's body, as text; whatever could be read when the body breaks off. */
async function answerText(response: Response): Promise<string> {
  const reader = response.body?.getReader();
  if (!reader) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < MAX_ANSWER_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } catch {
    // Cut off (abort, reset): what arrived is enough for a reason.
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).subarray(0, MAX_ANSWER_BYTES).toString("utf8");
}

function hint(status: number, verdict: HttpVerdict): string {
  if (status === 401 || status === 403)
    return " (refused: check the secret and headers the receiver expects)";
  if (status === 410) return " (Gone: the receiver removed this endpoint)";
  if (status >= 300 && status < 400) return " (redirects are not followed: set url to the final address)";
  return verdict.kind === "rate-limited" ? " (rate limited)" : "";
}

/** Why a request failed, as a reason: status, a hint, and the start of the answer (addresses masked). */
export function answerReason(
  status: number,
  verdict: HttpVerdict,
  text: string,
  hidden: readonly string[] = [],
): string {
  const said = shorten(scrub(text, hidden));
  return `webhook endpoint answered ${status}${hint(status, verdict)}${said ? `: ${said}` : ""}`;
}

/** A request that got no answer, as a reason: the network error's code and message, no URL credentials. */
export function networkReason(error: unknown, hidden: readonly string[] = []): string {
  const cause = (error as { cause?: unknown } | null)?.cause as
    | { code?: unknown; message?: unknown }
    | undefined;
  const code = typeof cause?.code === "string" ? cause.code : undefined;
  const message =
    typeof cause?.message === "string" && cause.message !== ""
      ? cause.message
      : error instanceof Error
        ? error.message
        : String(error);
  const detail = shorten(scrub(code && !message.includes(code) ? `${code}: ${message}` : message, hidden));
  return `webhook endpoint unreachable: ${detail}`;
}

type Sent =
  | { ok: true }
  | { ok: false; error: RetryableError | PermanentError; verdict: HttpVerdict["kind"] };

/** POSTs one signed body; says how it went (an abort throws). */
async function post(
  state: WebhookState,
  id: string,
  body: string,
  ctx: { signal: AbortSignal; health: ConnectorHealth },
): Promise<Sent> {
  const timestamp = Math.floor(Date.now() / 1000);
  let response: Response;
  try {
    response = await fetch(state.endpoint, {
      method: "POST",
      headers: {
        ...state.headers,
        "webhook-id": id,
        "webhook-timestamp": String(timestamp),
        // Standard Webhooks' symmetric signature is Svix's: v1,<base64 HMAC-SHA256 of "id.timestamp.body">.
        "webhook-signature": signWebhook(state.secret, id, timestamp, body),
      },
      body,
      signal: ctx.signal,
      // Standard Webhooks: a 3xx is a failure; following it would also carry the headers elsewhere.
      redirect: "manual",
    });
  } catch (error) {
    if (ctx.signal.aborted) throw ctx.signal.reason ?? error;
    return { ok: false, error: new RetryableError(networkReason(error, state.hidden)), verdict: "retry" };
  }
  const verdict = httpVerdict(response.status, response.headers);
  if (verdict.kind === "ok") {
    await response.body?.cancel().catch(() => undefined);
    ctx.health.healthy();
    return { ok: true };
  }
  const reason = answerReason(response.status, verdict, await answerText(response), state.hidden);
  try {
    // Reports the connector unhealthy for 401/403/410.
    throwForVerdict(verdict, reason, ctx.health);
  } catch (error) {
    return { ok: false, error: error as RetryableError | PermanentError, verdict: verdict.kind };
  }
  // Unreachable: only `ok` does not throw.
  return { ok: false, error: new RetryableError(reason), verdict: "retry" };
}

/** The result an item gets when its request failed the way `failure` did. */
function resultOf(failure: Extract<Sent, { ok: false }>): DeliveryResult {
  const { error } = failure;
  return error instanceof PermanentError ? dead(error.message) : retry(error.message, error.delayMs);
}

export const webhook = defineConnector({
  name: "webhook",
  configSchema: webhookConfigSchema,
  // Every known type; operators pick with `filter: { types: [...] }`.
  handles: KNOWN_EVENT_TYPES,
  maxBatchSize: MAX_BATCH_SIZE,
  // Single mode: one event per `deliver`, so that the gateway's pacing (a request per call) is exact.
  batchSizeFor: (config) => (config.batch ? MAX_BATCH_SIZE : 1),
  rateLimit: WEBHOOK_RATE_LIMIT,
  // One batch at a time: events reach the receiver in the order they are delivered.
  concurrency: 1,

  // No request at start-up: a receiver need not answer anything but events.
  async init(config: WebhookConfig): Promise<WebhookState> {
    return createState(config);
  },

  async deliver(items, ctx) {
    const { state } = ctx;
    if (items.length === 0) return [];

    if (state.batch) {
      const body = JSON.stringify(items.map(forwardedEvent));
      const sent = await post(state, batchIdFor(items), body, ctx);
      // The whole batch is one request: it succeeded or failed as one.
      if (!sent.ok) throw sent.error;
      return items.map(() => delivered());
    }

    // One request per event (the gateway sends one per call; a caller may pass more).
    const results: DeliveryResult[] = [];
    for (const [index, item] of items.entries()) {
      if (index > 0) await ctx.pace?.();
      const sent = await post(state, webhookIdFor(item.event.id), JSON.stringify(forwardedEvent(item)), ctx);
      if (sent.ok) {
        results.push(delivered());
        continue;
      }
      // This event only: the next one may be accepted (a lone event throws, below).
      if (sent.verdict === "dead" && items.length > 1) {
        results.push(dead(sent.error.message));
        continue;
      }
      // Nothing settled yet: the batch failed as a whole (a 429 then also slows the connector down).
      if (results.length === 0) throw sent.error;
      // The receiver is down, throttling or refusing: this event and the rest wait, or end with it.
      const rest = resultOf(sent);
      while (results.length < items.length) results.push(rest);
      break;
    }
    return results;
  },
});

export default webhook;
