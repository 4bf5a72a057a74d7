import type { z } from "zod";
import type { EngageEvent, KnownEventType, PreferenceEvent } from "./events.ts";
import { maskEmails } from "./mask-emails.ts";

/**
 * The contract between the gateway and a connector. The gateway knows connectors only through
 * this: it validates the connector's config with `configSchema`, hands it batches of at most
 * `maxBatchSize` events of the types in `handles`, paces calls with `rateLimit`, and records the
 * result the connector returns for each item.
 */

/** pino-compatible subset. Never pass e-mail addresses or contact ids in clear. */
export interface ConnectorLogger {
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
}

/** A contact as read from the Engage API at delivery time (authoritative for preferences). */
export interface EngageContact {
  id: string;
  email: string | undefined;
  mobilePhone: string | undefined;
  preferences: {
    acceptsEmail: boolean | undefined;
    acceptsSms: boolean | undefined;
    acceptsPostal: boolean | undefined;
  };
  /** The API's answer as received, for fields not modelled here. */
  raw: unknown;
}

/**
 * Returns the contact, `undefined` when Engage does not know it, or throws when the lookup failed.
 * `freshAfter`: an answer cached before that time is not used (pass the event's `receivedAt`, so a
 * preference change is never answered from a cache filled before it happened).
 */
export type ContactLookup = (
  contactId: string,
  options?: { freshAfter?: Date; signal?: AbortSignal },
) => Promise<EngageContact | undefined>;

export interface RateLimit {
  requests: number;
  perSeconds: number;
}

export interface DeliveryItem<E extends EngageEvent = EngageEvent> {
  /** Stable id of this delivery (one per event and connector); unchanged across attempts. */
  deliveryId: string;
  event: E;
  /** 1 on the first attempt. */
  attempt: number;
  /**
   * An earlier lease of this delivery may have reached the target: a retry, or a worker that died
   * (or whose outcome was lost) mid-attempt, which leaves `attempt` at 1. A connector whose writes
   * are not idempotent (appending rows) checks the target before writing again. Absent = false.
   */
  maybeSentBefore?: boolean;
  /** When the gateway stored the event. */
  receivedAt: Date;
}

/**
 * How a connector tells the gateway it cannot work at all (credentials refused, target gone) or that
 * it works again. Shown in metrics (`engage_bridge_connector_healthy`) and in `/readyz`'s detail.
 */
export interface ConnectorHealth {
  unhealthy(reason: string): void;
  healthy(): void;
}

/**
 * What the connector's `init` returned for this instance (an SDK client, caches): state that lives as
 * long as the instance, one per configured instance even for two of one type. Optional where `init`
 * returns nothing (connectors written before `init` could return state keep type-checking).
 */
export type InstanceState<State> = 0 extends 1 & State
  ? { state?: State } // any: a registry of connectors of every state type
  : // biome-ignore lint/suspicious/noConfusingVoidType: an `init` that returns nothing makes State `void`
    [State] extends [void]
    ? { state?: undefined }
    : undefined extends State
      ? { state?: State }
      : { state: State };

export type DeliveryContext<Config, State = undefined> = DeliveryContextBase<Config> & InstanceState<State>;

export interface DeliveryContextBase<Config> {
  config: Config;
  logger: ConnectorLogger;
  health: ConnectorHealth;
  /** Aborted when the gateway shuts down or the attempt times out; pass it to every request. */
  signal: AbortSignal;
  /**
   * Looks up a contact in the Engage API, cached and rate-limited by the gateway. Absent when the
   * source has no `engageApi` configured.
   */
  lookupContact: ContactLookup | undefined;
  /**
   * Waits until the connector's rate limit allows one more request. The gateway reserves one request
   * before each `deliver` call (and before `init`), so a call that sends a single request never needs
   * this; a connector that sends several, one after the other, awaits `pace()` before each request
   * after the first (calling it also says that the previous request was answered). Absent where
   * nothing paces (e.g. in unit tests). Rejects when the attempt is aborted.
   */
  pace?: () => Promise<void>;
}

/** The consent a connector applied for a preference event: the value, and where it came from. */
export interface AppliedPreference {
  value: boolean;
  from: "engage-api" | "payload";
}

/**
 * What the operator console shows beside an outcome, all optional: the HTTP status the target
 * answered, and for a delivered preference event the value applied.
 */
export interface ResultDetail {
  targetStatus?: number;
  consent?: AppliedPreference;
}

export type DeliveryResult =
  | ({ status: "delivered" } & ResultDetail)
  | ({ status: "skipped"; reason: string } & Pick<ResultDetail, "targetStatus">)
  | ({ status: "retry"; reason: string; delayMs?: number } & Pick<ResultDetail, "targetStatus">)
  | ({ status: "dead"; reason: string } & Pick<ResultDetail, "targetStatus">);

export const delivered = (detail: ResultDetail = {}): DeliveryResult => ({ status: "delivered", ...detail });
export const skipped = (reason: string): DeliveryResult => ({ status: "skipped", reason });
export const retry = (reason: string, delayMs?: number): DeliveryResult =>
  delayMs === undefined ? { status: "retry", reason } : { status: "retry", reason, delayMs };
export const dead = (reason: string): DeliveryResult => ({ status: "dead", reason });

/** `results` with the consent each item applied (by index) added to the delivered ones. */
export function withConsent(
  results: readonly DeliveryResult[],
  applied: ReadonlyMap<number, AppliedPreference>,
): DeliveryResult[] {
  return results.map((r, i) => {
    const consent = applied.get(i);
    return r.status === "delivered" && consent ? { ...r, consent } : r;
  });
}

/**
 * Errors are recognised by a brand, not by their class: a plugin built against its own copy of this
 * package throws instances of *that* copy's classes. `instanceof RetryableError` and
 * `instanceof PermanentError` check the brand (so they hold across copies); subclasses keep the
 * ordinary `instanceof`.
 */
const BRAND = Symbol.for("engage-bridge.error");

function branded(kind: string, value: unknown): boolean {
  return typeof value === "object" && value !== null && (value as { [BRAND]?: unknown })[BRAND] === kind;
}

/** `instanceof base` by brand; for a subclass of `base`, the ordinary prototype check. */
function brandedInstanceOf(base: abstract new (...args: never[]) => unknown, kind: string) {
  return function (this: unknown, value: unknown): boolean {
    return this === base ? branded(kind, value) : Function.prototype[Symbol.hasInstance].call(this, value);
  };
}

/** The whole batch failed for a reason that may pass (timeout, 5xx, 429): every item is retried. */
export class RetryableError extends Error {
  override readonly name = "RetryableError";
  /** Earliest sensible retry, e.g. from `Retry-After` or a rate-limit reset header. */
  readonly delayMs: number | undefined;
  /** The target said "too many requests": the gateway also slows this connector down. */
  readonly rateLimited: boolean;
  declare readonly [BRAND]: "retryable";
  /** The HTTP status the target answered, when there was one (shown in the console). */
  readonly targetStatus: number | undefined;
  constructor(
    message: string,
    options: { delayMs?: number; rateLimited?: boolean; targetStatus?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.delayMs = options.delayMs;
    this.rateLimited = options.rateLimited ?? false;
    this.targetStatus = options.targetStatus;
    Object.defineProperty(this, BRAND, { value: "retryable" });
  }
  // In the class, not beside it: bundlers that trust `sideEffects: false` keep it with the class.
  static {
    Object.defineProperty(RetryableError, Symbol.hasInstance, {
      value: brandedInstanceOf(RetryableError, "retryable"),
    });
  }
}

/** The whole batch can never succeed as sent (bad credentials, invalid config): every item is dead. */
export class PermanentError extends Error {
  override readonly name = "PermanentError";
  declare readonly [BRAND]: "permanent";
  /** The HTTP status the target answered, when there was one (shown in the console). */
  readonly targetStatus: number | undefined;
  constructor(message: string, options: { targetStatus?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.targetStatus = options.targetStatus;
    Object.defineProperty(this, BRAND, { value: "permanent" });
  }
  static {
    Object.defineProperty(PermanentError, Symbol.hasInstance, {
      value: brandedInstanceOf(PermanentError, "permanent"),
    });
  }
}

/** What `init` receives: the delivery context without the config (its own argument) and the state it makes. */
export type InitContext<Config> = Omit<DeliveryContextBase<Config>, "config">;

export interface ConnectorDefinition<
  S extends z.ZodType = z.ZodType,
  T extends KnownEventType = KnownEventType,
  State = undefined,
> {
  /** Unique, stable name: used as the config key under `connectors:` and in stored deliveries. */
  name: string;
  /** Validates the connector's block under `connectors.<name>` (without `enabled` and `rateLimit`). */
  configSchema: S;
  /** The event types this connector wants; it receives no others. */
  handles: readonly T[];
  /** Largest batch passed to `deliver`; 1 when absent. */
  maxBatchSize?: number;
  /**
   * Largest batch for a given config, when that depends on the config; capped at `maxBatchSize`.
   * E.g. 1 when the config selects one request per item, so that the gateway's pacing (one request
   * reserved per `deliver` call) matches the requests actually sent.
   */
  batchSizeFor?(config: z.output<S>): number;
  /** The target's own limit; operators can override it with `connectors.<name>.rateLimit`. */
  rateLimit?: RateLimit;
  /** Batches in flight at once; 1 when absent. */
  concurrency?: number;
  /**
   * The target keeps one current value per contact and channel (an email subscription status, a
   * suppression), so only the newest preference change matters. Then, when the source has no Engage
   * API lookup, the gateway skips a preference event older than one already applied for this
   * instance, contact and channel, and re-sends the newer one when an older one may have landed late.
   * Leave it unset for connectors that must see every event as it was sent (a forwarder, a log).
   */
  convergentConsent?: boolean;
  /**
   * Optional start-up: checks (credentials, referenced objects) and the instance's state. Throw to
   * refuse to start with a clear message; the gateway reports it and exits. What it returns (an SDK
   * client, caches) is handed to every `deliver` of this instance as `ctx.state`: per-instance state
   * belongs here, not in module-level maps keyed by the config. The gateway calls it once per
   * configured instance before the first `deliver`.
   */
  init?(config: z.output<S>, ctx: InitContext<z.output<S>>): Promise<State>;
  /**
   * Delivers a batch. Returns exactly one result per item, in the same order. Throw
   * {@link RetryableError} or {@link PermanentError} when the whole batch failed alike; any other
   * thrown error counts as retryable.
   */
  deliver(
    items: readonly DeliveryItem<Extract<EngageEvent, { type: T }>>[],
    ctx: DeliveryContext<z.output<S>, State>,
  ): Promise<readonly DeliveryResult[]>;
}

export type Connector<
  S extends z.ZodType = z.ZodType,
  T extends KnownEventType = KnownEventType,
  State = undefined,
> = Readonly<ConnectorDefinition<S, T, State> & { maxBatchSize: number; concurrency: number }>;

const NAME = /^[a-z][a-zA-Z0-9-]{0,62}$/;

function positiveInteger(value: number | undefined, fallback: number, what: string): number {
  const n = value ?? fallback;
  if (!Number.isInteger(n) || n < 1) throw new TypeError(`${what} must be a positive integer`);
  return n;
}

/** Checks a connector definition once, when the package is loaded, and fills in defaults. */
export function defineConnector<S extends z.ZodType, T extends KnownEventType, State = undefined>(
  definition: ConnectorDefinition<S, T, State>,
): Connector<S, T, State> {
  if (!NAME.test(definition.name)) {
    throw new TypeError(`connector name "${definition.name}" must be camelCase letters, digits or dashes`);
  }
  if (!Array.isArray(definition.handles) || definition.handles.length === 0) {
    throw new TypeError(`connector ${definition.name} must handle at least one event type`);
  }
  if (typeof definition.deliver !== "function") {
    throw new TypeError(`connector ${definition.name} must have a deliver function`);
  }
  if (definition.batchSizeFor !== undefined && typeof definition.batchSizeFor !== "function") {
    throw new TypeError(`connector ${definition.name}: batchSizeFor must be a function`);
  }
  const rate = definition.rateLimit;
  if (rate && !(rate.requests > 0 && rate.perSeconds > 0)) {
    throw new TypeError(`connector ${definition.name}: rateLimit needs positive requests and perSeconds`);
  }
  return Object.freeze({
    ...definition,
    maxBatchSize: positiveInteger(definition.maxBatchSize, 1, `${definition.name}: maxBatchSize`),
    concurrency: positiveInteger(definition.concurrency, 1, `${definition.name}: concurrency`),
  });
}

/**
 * The batch size the gateway uses for `connector` with a parsed `config`: `batchSizeFor(config)`
 * when the connector has it, as a whole number between 1 and `maxBatchSize`; else `maxBatchSize`.
 */
export function batchSizeOf<S extends z.ZodType>(
  connector: Pick<Connector<S>, "maxBatchSize" | "batchSizeFor">,
  config: z.output<S>,
): number {
  const wanted = connector.batchSizeFor?.(config);
  if (wanted === undefined || !Number.isFinite(wanted)) return connector.maxBatchSize;
  return Math.min(connector.maxBatchSize, Math.max(1, Math.floor(wanted)));
}

/**
 * Normalizes what `deliver` returned or threw into one result per item. The engine calls this so
 * that a connector bug (wrong count, junk) can never mark an item delivered by accident.
 */
export function settleBatch(
  count: number,
  outcome: { results: readonly DeliveryResult[] } | { error: unknown },
): DeliveryResult[] {
  if ("error" in outcome) {
    const error = outcome.error;
    const status = httpStatusOf((error as { targetStatus?: unknown } | null)?.targetStatus);
    const detail = status === undefined ? {} : { targetStatus: status };
    if (error instanceof PermanentError)
      return Array.from({ length: count }, () => ({ ...dead(error.message), ...detail }));
    const message = error instanceof Error ? error.message : String(error);
    const delayMs = error instanceof RetryableError ? error.delayMs : undefined;
    return Array.from({ length: count }, () => ({ ...retry(message, delayMs), ...detail }));
  }
  const { results } = outcome;
  if (!Array.isArray(results) || results.length !== count) {
    const got = Array.isArray(results) ? results.length : typeof results;
    return Array.from({ length: count }, () => retry(`connector returned ${got} results for ${count} items`));
  }
  return results.map((r): DeliveryResult => {
    const status = httpStatusOf((r as { targetStatus?: unknown } | undefined)?.targetStatus);
    const detail = status === undefined ? {} : { targetStatus: status };
    switch (r?.status) {
      case "delivered": {
        const consent = appliedPreferenceOf((r as { consent?: unknown }).consent);
        return delivered(consent ? { ...detail, consent } : detail);
      }
      case "skipped":
      case "dead":
        return { status: r.status, reason: String(r.reason ?? ""), ...detail };
      case "retry":
        return {
          ...retry(
            String(r.reason ?? ""),
            typeof r.delayMs === "number" && r.delayMs >= 0 ? r.delayMs : undefined,
          ),
          ...detail,
        };
      default:
        return retry("connector returned an invalid result");
    }
  });
}

/** An HTTP status (100..599), or undefined: results and errors come from plugins too. */
function httpStatusOf(value: unknown): number | undefined {
  return Number.isInteger(value) && (value as number) >= 100 && (value as number) <= 599
    ? (value as number)
    : undefined;
}

function appliedPreferenceOf(value: unknown): AppliedPreference | undefined {
  const v = value as Partial<AppliedPreference> | null | undefined;
  return typeof v?.value === "boolean" && (v.from === "engage-api" || v.from === "payload")
    ? { value: v.value, from: v.from }
    : undefined;
}

export interface CurrentPreference {
  /** The value to apply; `undefined` when neither Engage nor the payload tells. */
  value: boolean | undefined;
  /** The contact read from Engage, when a lookup is configured and it knows the contact. */
  contact: EngageContact | undefined;
  /** Where `value` came from. */
  source: "engage-api" | "payload";
}

const PREFERENCE_FIELD = { email: "acceptsEmail", sms: "acceptsSms", postal: "acceptsPostal" } as const;

/**
 * The preference a connector should apply for a preference event: Engage's current value when the
 * contact lookup is configured (authoritative, immune to out-of-order delivery), else the payload's.
 * Lookup failures throw, so the item is retried rather than applied from a stale payload.
 */
export async function currentPreference(
  item: DeliveryItem<PreferenceEvent>,
  ctx: Pick<DeliveryContextBase<unknown>, "lookupContact" | "signal">,
): Promise<CurrentPreference> {
  const { event } = item;
  if (!ctx.lookupContact) return { value: event.data.value, contact: undefined, source: "payload" };
  const contact = await ctx.lookupContact(event.contactId, {
    freshAfter: item.receivedAt,
    signal: ctx.signal,
  });
  const value = contact?.preferences[PREFERENCE_FIELD[event.channel]];
  return {
    value: value ?? event.data.value,
    contact,
    source: value === undefined ? "payload" : "engage-api",
  };
}

/** What to do for one preference event at a target that knows people by email address. */
export type EmailPreference =
  | {
      kind: "apply";
      /** The contact's address in Engage, trimmed (targets compare it their own way). */
      email: string;
      /** The value to apply (Engage's current one, else the payload's). */
      value: boolean;
      /** Where `value` came from (report it with `delivered({ consent })` or {@link withConsent}). */
      from: AppliedPreference["from"];
      contact: EngageContact;
    }
  | { kind: "result"; result: DeliveryResult };

/**
 * The one rule for preference events at targets that know people by email (HubSpot, SendGrid, yours):
 *
 * - no Engage API lookup on the source → `skipped` (only Engage knows the address);
 * - the lookup fails → `retry` (after the lookup's own hint), never applied from a stale payload;
 *   an aborted attempt rethrows;
 * - Engage does not know the contact, or it has no address → `skipped` (nothing to act on);
 * - neither Engage nor the payload has a value → `dead`: a consent change that cannot be applied must
 *   be visible to operators (dead deliveries are alerted on), not pass as "nothing to do";
 * - else `apply` with the address, the value and the contact.
 */
export async function emailPreference(
  item: DeliveryItem<PreferenceEvent>,
  ctx: Pick<DeliveryContextBase<unknown>, "lookupContact" | "signal">,
): Promise<EmailPreference> {
  const result = (r: DeliveryResult): EmailPreference => ({ kind: "result", result: r });
  if (!ctx.lookupContact) {
    return result(
      skipped(
        "no email address: configure engageApi on the source (the event carries a contact id, only Engage knows the address)",
      ),
    );
  }
  let preference: CurrentPreference;
  try {
    preference = await currentPreference(item, ctx);
  } catch (error) {
    if (ctx.signal.aborted) throw error;
    const message = error instanceof Error ? error.message : String(error);
    const hint = (error as { retryAfterMs?: unknown } | null)?.retryAfterMs;
    const text = message.startsWith("contact lookup") ? message : `contact lookup failed: ${message}`;
    return result(
      retry(maskEmails(text).slice(0, 300), typeof hint === "number" && hint > 0 ? hint : undefined),
    );
  }
  if (!preference.contact) return result(skipped("no email address: Engage does not know the contact"));
  const email = preference.contact.email?.trim();
  if (!email) return result(skipped("no email address: the contact has none in Engage"));
  if (preference.value === undefined)
    return result(dead("no preference value: neither Engage nor the event says what the contact accepts"));
  return {
    kind: "apply",
    email,
    value: preference.value,
    from: preference.source,
    contact: preference.contact,
  };
}
