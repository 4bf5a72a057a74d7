import { setTimeout as sleep } from "node:timers/promises";
import {
  type AppliedPreference,
  type DeliveryContext,
  type DeliveryItem,
  type DeliveryResult,
  dead,
  defineConnector,
  delivered,
  emailPreference,
  type InitContext,
  maskEmails,
  type PreferenceEvent,
  retry,
  skipped,
  throwForVerdict,
  withConsent,
} from "@engage-bridge/core";
import { describeAnswer, type Failure, failureOf, networkFailure } from "./answers.ts";
import { createApi, emailSegment, type HubSpotAnswer, type HubSpotApi, NetworkError } from "./api.ts";
import { type HubSpotConfig, hubspotConfigSchema } from "./config.ts";
import { blamedProperties, FITTING_PROPERTY, unfitProperty } from "./properties.ts";
import { REQUEST_SCOPE, requiredScopes, scopesNamed } from "./scopes.ts";

/** HubSpot's limit for Free/Starter apps; higher tiers raise it with `connectors.hubspot.rateLimit`. */
export const HUBSPOT_RATE_LIMIT = Object.freeze({ requests: 100, perSeconds: 10 });
/** Inputs per `statuses/batch/write` (HubSpot publishes no maximum; 100 is its usual batch size). */
export const BATCH_SIZE = 100;
/** Wait before patching a contact again that HubSpot's CRM does not have (it may be created later). */
export const UNKNOWN_CONTACT_RETRY_MS = 60_000;
/**
 * Wait before patching again after HubSpot refused a mirrored property (missing, wrong type,
 * read-only): only an operator can fix that, so the items wait for it instead of dying, and an hour
 * keeps the gateway's attempts (`delivery.maxAttempts`) for the hours an operator may need.
 */
export const PROPERTY_RETRY_MS = 3_600_000;

type StatusState = "SUBSCRIBED" | "UNSUBSCRIBED";

/**
 * One connector instance's state: `init` makes it, the gateway hands it to every `deliver` of that
 * instance as `ctx.state`. Per instance rather than in module-level maps keyed by the config object,
 * so that two instances never share a client or a property problem, and nothing outlives them.
 */
export interface HubSpotState {
  /** The SDK client, made once per instance (see api.ts: never per call). */
  readonly api: HubSpotApi;
  /**
   * Mirrored properties HubSpot refused, with the reason: kept across calls so that a working email
   * write does not report the connector healthy while SMS/postal still cannot be applied. A patch
   * that HubSpot accepts clears its properties.
   */
  readonly propertyTrouble: Map<string, string>;
}

type Ctx = DeliveryContext<HubSpotConfig, HubSpotState>;
type Item = DeliveryItem<PreferenceEvent>;

/** One email's subscription status to write, for the items at `indexes`. */
interface StatusWrite {
  email: string;
  state: StatusState;
  indexes: number[];
}

/** Contact properties to patch on one email's contact, for the items at `indexes`. */
interface PropertyWrite {
  email: string;
  properties: Record<string, "true" | "false">;
  indexes: number[];
}

type Plan =
  | { kind: "result"; result: DeliveryResult }
  | { kind: "status"; email: string; state: StatusState; from: AppliedPreference["from"] }
  | {
      kind: "property";
      email: string;
      property: string;
      value: "true" | "false";
      from: AppliedPreference["from"];
    };

const MIRRORED = {
  sms: { key: "smsProperty", label: "SMS", field: "acceptsSms" },
  postal: { key: "postalProperty", label: "postal", field: "acceptsPostal" },
} as const;

/** What one item asks for: a write, or a result without any request. */
async function plan(item: Item, ctx: Ctx): Promise<Plan> {
  const { config } = ctx;
  const { channel } = item.event;
  let property: string | undefined;
  if (channel !== "email") {
    const mirror = MIRRORED[channel];
    property = config[mirror.key];
    if (!property) {
      return {
        kind: "result",
        result: skipped(
          `HubSpot has no ${mirror.label} consent channel; set ${mirror.key} to mirror ${mirror.field} into a contact property`,
        ),
      };
    }
  }
  // The rule every email-keyed target shares (core): no lookup, unknown contact or no address →
  // skipped; lookup failure → retry; no value anywhere → dead.
  const preference = await emailPreference(item, ctx);
  if (preference.kind === "result") return preference;
  const { email, from } = preference;
  if (property)
    return { kind: "property", email, property, value: preference.value ? "true" : "false", from };
  return { kind: "status", email, state: preference.value ? "SUBSCRIBED" : "UNSUBSCRIBED", from };
}

const sameEmail = (a: unknown, b: string) => typeof a === "string" && a.toLowerCase() === b.toLowerCase();

/** `subscriptionId` as HubSpot's int64: a JSON number when it fits, else the digits as a string. */
function subscriptionIdValue(id: string): number | string {
  const n = Number(id);
  return Number.isSafeInteger(n) ? n : id;
}

interface ErrorEntry {
  category?: unknown;
  message?: unknown;
  id?: unknown;
  context?: unknown;
  /** The spec's `StandardError.errors`: `ErrorDetail`s, which have a `context` and `message` too. */
  errors?: unknown;
}

const listOf = (body: unknown, name: string): unknown[] => {
  const value = (body as Record<string, unknown> | undefined)?.[name];
  return Array.isArray(value) ? value : [];
};

/**
 * Whether an entry of `errors` is about `email`: its context lists it, its message or id names it, or
 * one of its own `errors` (details) does. HubSpot does not specify where a batch error names its input.
 */
function mentions(error: ErrorEntry, email: string, depth = 0): boolean {
  if (sameEmail(error.id, email)) return true;
  // Whole words only: "a@example.com" is not named by a message about "ba@example.com".
  if (typeof error.message === "string") {
    const words = error.message.split(/[\s,;:"'<>()[\]]+/).map((w) => w.replace(/\.+$/, ""));
    if (words.some((w) => sameEmail(w, email))) return true;
  }
  const context = error.context;
  if (context && typeof context === "object") {
    for (const value of Object.values(context)) {
      const values = Array.isArray(value) ? value : [value];
      if (values.some((v) => sameEmail(v, email))) return true;
    }
  }
  if (Array.isArray(error.errors) && depth < 2) {
    return error.errors.some(
      (d) => d && typeof d === "object" && mentions(d as ErrorEntry, email, depth + 1),
    );
  }
  return false;
}

function describeError(error: ErrorEntry): string {
  const category = typeof error.category === "string" ? error.category : "error";
  const message = typeof error.message === "string" ? error.message : "no message";
  return maskEmails(`${category}: ${message}`);
}

/** The result of a status write for `email` as listed in a 2xx answer: delivered, or why not. */
function judgeStatus(
  body: unknown,
  write: StatusWrite,
  subscriptionId: string,
  options: { single: boolean },
): DeliveryResult {
  const results = listOf(body, "results");
  // Lenient: a bare status object (no `results`) counts as the only result.
  const result = (results.length > 0 ? results : [body]).find((r) => {
    const entry = r as
      | { subscriberIdString?: unknown; subscriptionId?: unknown; channel?: unknown }
      | undefined;
    return (
      sameEmail(entry?.subscriberIdString, write.email) &&
      String(entry?.subscriptionId) === subscriptionId &&
      (entry?.channel === undefined || entry.channel === "EMAIL")
    );
  }) as { status?: unknown } | undefined;
  const errors = (listOf(body, "errors") as ErrorEntry[]).filter((e) => e && typeof e === "object");
  // A single write's errors are about its only input, even when they do not name it.
  const error =
    errors.find((e) => mentions(e, write.email)) ?? (options.single && !result ? errors[0] : undefined);
  if (error) {
    return error.category === "VALIDATION_ERROR"
      ? dead(`HubSpot rejected the write: ${describeError(error)}`)
      : retry(`HubSpot listed the write in its errors: ${describeError(error)}`);
  }
  if (!result) {
    const others = errors.length > 0 ? `; unattributed errors: ${errors.map(describeError).join("; ")}` : "";
    return retry(
      `HubSpot answered 2xx without a result for this email, so nothing is known to be applied${others}`,
    );
  }
  if (typeof result.status === "string" && result.status !== write.state) {
    return retry(`HubSpot answered status ${result.status} for a ${write.state} write`);
  }
  return delivered();
}

const configKeyOf = (config: HubSpotConfig, property: string) =>
  property === config.smsProperty ? "smsProperty" : "postalProperty";

/**
 * One `deliver` call: sends the writes one request at a time, paced, and fills in each item's
 * result. After a failure that concerns every request it sends nothing more: HubSpot down (the rest
 * is retried) or the token refused (401: the rest is dead, as every request would be refused). A
 * 403 or 410 concerns one kind of request: the rest of that kind is dead, the other kinds are still
 * sent. A rate limit ends the call (the whole batch is retried and the gateway slows down).
 */
class Run {
  private paid = true;
  /** The result of every item not sent yet, after a failure that concerns every request. */
  private stopped: DeliveryResult | undefined;
  /** The result of the items not sent yet whose request needs this scope (after a 403 or 410). */
  private readonly refusedScopes = new Map<string, DeliveryResult>();
  /** Mirrored properties refused in this call: later patches with them are not sent. */
  private readonly refused = new Map<string, string>();
  private readonly ctx: Ctx;
  private readonly api: HubSpotApi;
  readonly results: (DeliveryResult | undefined)[];

  constructor(ctx: Ctx, count: number) {
    // Only a gateway that skipped `init` (older than connector contract v2) passes no state.
    if (!ctx.state) throw new Error("the HubSpot connector was not initialised: ctx.state is missing");
    this.ctx = ctx;
    this.api = ctx.state.api;
    this.results = Array.from({ length: count }, () => undefined);
  }

  private set(indexes: readonly number[], result: DeliveryResult): void {
    for (const index of indexes) this.results[index] = result;
  }

  /**
   * False (and the items given their result) once an earlier request failed for every request, or
   * for every request that needs `scope`.
   */
  private mayGoOn(indexes: readonly number[], scope: string): boolean {
    const result = this.stopped ?? this.refusedScopes.get(scope);
    if (result === undefined) return true;
    this.set(indexes, result);
    return false;
  }

  /** A request worked: healthy again, unless a mirrored property is still known to be refused. */
  private working(accepted: readonly string[] = []): void {
    const trouble = this.ctx.state.propertyTrouble;
    for (const property of accepted) trouble.delete(property);
    const [still] = trouble.values();
    if (still === undefined) this.ctx.health.healthy();
    // Re-stated so that the reason shown is this problem, not an earlier one that is gone.
    else this.ctx.health.unhealthy(still);
  }

  private async send(
    method: "POST" | "PATCH",
    path: string,
    body: unknown,
    query?: Record<string, string>,
    accepted?: readonly string[],
  ): Promise<{ answer: HubSpotAnswer } | { failure: Failure }> {
    // The gateway reserved the call's first request; every further one waits for the rate limit.
    if (this.paid) this.paid = false;
    else await this.ctx.pace?.();
    try {
      const answer = await this.api.request(method, path, { body, query, signal: this.ctx.signal });
      const failure = failureOf(answer);
      if (failure) return { failure };
      this.working(accepted);
      return { answer };
    } catch (error) {
      if (error instanceof NetworkError) return { failure: networkFailure(error) };
      throw error;
    }
  }

  /** Records a failed request for its items; `scope` is the one the request needs. */
  private fail(
    failure: Failure,
    indexes: readonly number[],
    onNotFound: DeliveryResult,
    scope: string,
  ): void {
    const log = { status: failure.kind, items: indexes.length };
    switch (failure.kind) {
      case "rate-limited":
        this.ctx.logger.warn(
          log,
          failure.daily ? "HubSpot daily limit reached" : "HubSpot rate limit reached",
        );
        throwForVerdict(
          { kind: "rate-limited", delayMs: failure.delayMs },
          failure.daily ? `HubSpot's daily limit is used up: ${failure.reason}` : failure.reason,
        );
        return;
      case "unhealthy": {
        const { summary, reason } = unhealthyReason(failure, scope, this.ctx.config);
        this.ctx.health.unhealthy(`${summary}: ${reason}`);
        this.ctx.logger.error(log, summary);
        this.set(indexes, dead(reason));
        const rest = dead(`not sent after an earlier answer in the same batch: ${reason}`);
        // A refused token refuses every request; a missing scope or a removed endpoint, this kind.
        if (failure.status === 401) this.stopped = rest;
        else this.refusedScopes.set(scope, rest);
        return;
      }
      case "transient":
        this.ctx.logger.warn(log, "HubSpot request failed; will retry");
        this.set(indexes, retry(failure.reason, failure.delayMs));
        this.stopped = retry(
          `not sent after an earlier failure in the same batch: ${failure.reason}`,
          failure.delayMs,
        );
        return;
      case "invalid":
        this.ctx.logger.warn(log, "HubSpot rejected the request");
        this.set(indexes, dead(`HubSpot rejected the write: ${failure.reason}`));
        return;
      case "not-found":
        this.set(indexes, onNotFound);
        return;
    }
  }

  private statusBody(write: StatusWrite) {
    const { config } = this.ctx;
    return {
      channel: "EMAIL",
      statusState: write.state,
      subscriptionId: subscriptionIdValue(config.subscriptionId),
      legalBasis: config.legalBasis,
      legalBasisExplanation: config.legalBasisExplanation,
    };
  }

  /** `POST …/statuses/{email}`: one request per email. */
  async writeOne(write: StatusWrite): Promise<void> {
    if (!this.mayGoOn(write.indexes, REQUEST_SCOPE.statusWrite)) return;
    const path = `${this.api.preferencesPath}/statuses/${emailSegment(write.email)}`;
    const sent = await this.send("POST", path, this.statusBody(write));
    if ("failure" in sent) {
      this.fail(
        sent.failure,
        write.indexes,
        dead(`HubSpot does not know this path: ${sent.failure.reason}`),
        REQUEST_SCOPE.statusWrite,
      );
      return;
    }
    this.set(
      write.indexes,
      judgeStatus(sent.answer.body, write, this.ctx.config.subscriptionId, { single: true }),
    );
  }

  /** `POST …/statuses/batch/write`: results matched to inputs by email. */
  async writeBatch(writes: readonly StatusWrite[]): Promise<void> {
    const all = writes.flatMap((w) => w.indexes);
    if (!this.mayGoOn(all, REQUEST_SCOPE.batchWrite)) return;
    const inputs = writes.map((w) => ({ subscriberIdString: w.email, ...this.statusBody(w) }));
    const sent = await this.send("POST", `${this.api.preferencesPath}/statuses/batch/write`, { inputs });
    if ("failure" in sent) {
      const { failure } = sent;
      if (failure.kind === "invalid" && writes.length > 1) {
        // A 400 for the whole batch may be about one input: only the inputs it names are dead.
        const named = namedInputs(failure.body, writes);
        if (named.size > 0) {
          for (const w of writes) {
            this.set(
              w.indexes,
              named.has(w)
                ? dead(`HubSpot rejected the write: ${failure.reason}`)
                : retry(`HubSpot refused the batch because of another input: ${failure.reason}`),
            );
          }
          return;
        }
      }
      this.fail(
        failure,
        all,
        dead(`HubSpot does not know this path: ${failure.reason}`),
        REQUEST_SCOPE.batchWrite,
      );
      return;
    }
    for (const w of writes) {
      this.set(
        w.indexes,
        judgeStatus(sent.answer.body, w, this.ctx.config.subscriptionId, { single: false }),
      );
    }
  }

  /** `PATCH /crm/v3/objects/contacts/{email}?idProperty=email`: mirrored SMS/postal preferences. */
  async patchContact(write: PropertyWrite): Promise<void> {
    if (!this.mayGoOn(write.indexes, REQUEST_SCOPE.contactPatch)) return;
    const names = Object.keys(write.properties);
    const refused = names.map((n) => this.refused.get(n)).find((r) => r !== undefined);
    if (refused !== undefined) {
      this.set(write.indexes, retry(`not sent: ${refused}`, PROPERTY_RETRY_MS));
      return;
    }
    const path = `/crm/v3/objects/contacts/${emailSegment(write.email)}`;
    const sent = await this.send(
      "PATCH",
      path,
      { properties: write.properties },
      { idProperty: "email" },
      names,
    );
    if ("failure" in sent) {
      const { failure } = sent;
      const blamed = failure.kind === "invalid" ? blamedProperties(failure.body, names) : undefined;
      if (blamed) {
        this.propertyRefused(blamed, failure.reason, write.indexes);
        return;
      }
      this.fail(
        failure,
        write.indexes,
        retry(`HubSpot has no contact with this email (yet): ${failure.reason}`, UNKNOWN_CONTACT_RETRY_MS),
        REQUEST_SCOPE.contactPatch,
      );
      return;
    }
    const body = sent.answer.body as { id?: unknown; properties?: Record<string, unknown> } | undefined;
    const confirmed =
      body?.id !== undefined &&
      Object.entries(write.properties).every(
        ([name, value]) => body.properties?.[name] === undefined || String(body.properties[name]) === value,
      );
    this.set(
      write.indexes,
      confirmed
        ? delivered()
        : retry(
            `${describeAnswer(sent.answer)} without the updated contact, so nothing is known to be applied`,
          ),
    );
  }

  /**
   * HubSpot refused a mirrored property: every SMS/postal change would fail the same way until an
   * operator fixes the property, so the connector says so (unhealthy) and the items wait for the fix
   * (retry in an hour) instead of dying one after the other.
   */
  private propertyRefused(blamed: readonly string[], answer: string, indexes: readonly number[]): void {
    const { config } = this.ctx;
    const named = blamed.map((p) => `${configKeyOf(config, p)} "${p}"`).join(" and ");
    const reason =
      `HubSpot refused the contact property ${named}: ${answer}. ` +
      `It must exist on contacts and accept "true"/"false" (${FITTING_PROPERTY})`;
    const trouble = this.ctx.state.propertyTrouble;
    for (const property of blamed) {
      this.refused.set(property, reason);
      trouble.set(property, reason);
    }
    this.ctx.health.unhealthy(reason);
    this.ctx.logger.error(
      { status: "property-refused", properties: blamed, items: indexes.length },
      "HubSpot refused a mirrored contact property; SMS/postal changes wait until it is fixed",
    );
    this.set(indexes, retry(reason, PROPERTY_RETRY_MS));
  }
}

/**
 * The items' reason and the connector's unhealthy reason for a 401 (the token itself), a 403 (a
 * scope: the one this request needs, and the rest) or a 410 (HubSpot removed the endpoint).
 */
function unhealthyReason(
  failure: Extract<Failure, { kind: "unhealthy" }>,
  scope: string,
  config: HubSpotConfig,
): { summary: string; reason: string } {
  if (failure.status === 410) {
    return {
      summary: "HubSpot removed an endpoint the connector uses",
      reason: `${failure.reason}; HubSpot no longer serves this endpoint (apiVersion ${config.apiVersion}?)`,
    };
  }
  return {
    summary: "HubSpot refused the access token",
    reason:
      failure.status === 403
        ? `${failure.reason}; the private app needs the scope ${scope} (all it needs: ${requiredScopes(config)})`
        : `${failure.reason}; check accessToken (revoked or expired?)`,
  };
}

/** The inputs of a batch that a 400 answer names (in `errors`, `context` or its message). */
function namedInputs(body: unknown, writes: readonly StatusWrite[]): Set<StatusWrite> {
  const entries = [body as ErrorEntry, ...(listOf(body, "errors") as ErrorEntry[])].filter(Boolean);
  return new Set(writes.filter((w) => entries.some((e) => mentions(e, w.email))));
}

/** Groups planned writes by email (case-insensitively), in order: a later item's value wins. */
function byEmail<P extends { index: number; email: string }, W extends { indexes: number[] }>(
  planned: readonly P[],
  make: (first: P) => W,
  add: (write: W, item: P) => void,
): W[] {
  const groups = new Map<string, W>();
  for (const p of planned) {
    const key = p.email.toLowerCase();
    let group = groups.get(key);
    if (!group) {
      group = make(p);
      groups.set(key, group);
    }
    group.indexes.push(p.index);
    add(group, p);
  }
  return [...groups.values()];
}

async function deliver(items: readonly Item[], ctx: Ctx): Promise<readonly DeliveryResult[]> {
  const run = new Run(ctx, items.length);
  const statuses: { index: number; email: string; state: StatusState; from: AppliedPreference["from"] }[] =
    [];
  const properties: {
    index: number;
    email: string;
    property: string;
    value: "true" | "false";
    from: AppliedPreference["from"];
  }[] = [];
  for (const [index, item] of items.entries()) {
    const planned = await plan(item, ctx);
    if (planned.kind === "result") run.results[index] = planned.result;
    else if (planned.kind === "status") statuses.push({ index, ...planned });
    else properties.push({ index, ...planned });
  }

  // Items of one email share a request; the later item's lookup is the newer one, so its value wins.
  const statusWrites = byEmail(
    statuses,
    (first): StatusWrite => ({ email: first.email, state: first.state, indexes: [] }),
    (write, item) => {
      write.state = item.state;
    },
  );
  if (ctx.config.batch) {
    for (let i = 0; i < statusWrites.length; i += BATCH_SIZE) {
      await run.writeBatch(statusWrites.slice(i, i + BATCH_SIZE));
    }
  } else {
    for (const write of statusWrites) await run.writeOne(write);
  }

  const propertyWrites = byEmail(
    properties,
    (first): PropertyWrite => ({ email: first.email, properties: {}, indexes: [] }),
    (write, item) => {
      write.properties[item.property] = item.value;
    },
  );
  for (const write of propertyWrites) await run.patchContact(write);

  const results = run.results.map((r) => r ?? retry("no result was recorded for this item"));
  return withConsent(results, appliedValues(statusWrites, propertyWrites, [...statuses, ...properties]));
}

/** Per item: the value its write applied (a later item of the same email may have set it) and its source. */
function appliedValues(
  statusWrites: readonly StatusWrite[],
  propertyWrites: readonly PropertyWrite[],
  planned: readonly { index: number; from: AppliedPreference["from"]; property?: string }[],
): Map<number, AppliedPreference> {
  const byIndex = new Map(planned.map((p) => [p.index, p]));
  const applied = new Map<number, AppliedPreference>();
  for (const write of statusWrites)
    for (const i of write.indexes) {
      const from = byIndex.get(i)?.from;
      if (from) applied.set(i, { value: write.state === "SUBSCRIBED", from });
    }
  for (const write of propertyWrites)
    for (const i of write.indexes) {
      const item = byIndex.get(i);
      const value = item?.property ? write.properties[item.property] : undefined;
      if (item && value) applied.set(i, { value: value === "true", from: item.from });
    }
  return applied;
}

/**
 * A start-up GET: 5xx, 429 and network errors are tried up to three times; a refused token stops the
 * gateway with the scopes to grant; a 2xx or 404 is the caller's to read.
 */
async function startupGet(
  config: HubSpotConfig,
  api: HubSpotApi,
  ctx: InitContext<HubSpotConfig>,
  pacing: { paid: boolean },
  path: string,
): Promise<HubSpotAnswer> {
  const where = `HubSpot at ${config.baseUrl}`;
  let last = "";
  for (let attempt = 1; attempt <= 3; attempt++) {
    // The gateway reserved init's first request; every further one waits for the rate limit.
    if (pacing.paid) pacing.paid = false;
    else await ctx.pace?.();
    let answer: HubSpotAnswer;
    try {
      answer = await api.request("GET", path, { signal: ctx.signal });
    } catch (error) {
      if (!(error instanceof NetworkError)) throw error;
      last = error.message;
      continue;
    }
    const failure = failureOf(answer);
    if (!failure || failure.kind === "not-found") return answer;
    if (failure.kind === "unhealthy" && failure.status === 410) {
      ctx.health.unhealthy(`HubSpot removed an endpoint the connector uses: ${failure.reason}`);
      throw new Error(`${where} no longer serves GET ${path}: ${failure.reason}`);
    }
    if (failure.kind === "unhealthy") {
      ctx.health.unhealthy(`HubSpot refused the access token: ${failure.reason}`);
      const named = scopesNamed(answer.body);
      throw new Error(
        `${where} refused the access token (${answer.status}): check accessToken and the private app's scopes: ` +
          `${requiredScopes(config)}` +
          `${named.length > 0 ? `; HubSpot names ${named.join(", ")}` : ""}. ${failure.reason}`,
      );
    }
    if (failure.kind === "invalid") throw new Error(`${where} refused GET ${path}: ${failure.reason}`);
    last = failure.reason;
    if (attempt === 3) break;
    // Rate limit or 5xx: worth another try after a short wait, as long as HubSpot asked for (423,
    // Retry-After, the rolling window), never longer than the start-up budget.
    const asked =
      failure.kind === "rate-limited" ? (failure.daily ? undefined : failure.delayMs) : failure.delayMs;
    const wait = Math.min(asked ?? 1_000, 10_000);
    await sleep(wait, undefined, { signal: ctx.signal });
  }
  throw new Error(`${where} could not be checked: ${last}`);
}

/**
 * `smsProperty`/`postalProperty` exist on contacts and can hold "true"/"false" (see properties.ts),
 * so that a typo or a wrong property type stops the gateway at start-up, not every SMS/postal change.
 */
async function checkProperty(
  config: HubSpotConfig,
  api: HubSpotApi,
  ctx: InitContext<HubSpotConfig>,
  pacing: { paid: boolean },
  key: "smsProperty" | "postalProperty",
  name: string,
): Promise<void> {
  const answer = await startupGet(
    config,
    api,
    ctx,
    pacing,
    `/crm/v3/properties/contacts/${encodeURIComponent(name)}`,
  );
  if (answer.status === 404) {
    throw new Error(
      `${key} "${name}" does not exist on HubSpot contacts (${describeAnswer(answer)}): ` +
        `create it as ${FITTING_PROPERTY}, or fix the name (HubSpot's internal name, not the label)`,
    );
  }
  const unfit = unfitProperty(answer.body);
  if (unfit) {
    throw new Error(
      `${key} "${name}" cannot hold "true"/"false" in HubSpot: ${unfit}; use ${FITTING_PROPERTY}`,
    );
  }
}

/**
 * Start-up check: the token works, `subscriptionId` is one of the account's subscription types, and
 * the mirrored contact properties exist and fit. Returns the instance's state (its client, used for
 * the checks too, and no property trouble yet).
 */
async function init(config: HubSpotConfig, ctx: InitContext<HubSpotConfig>): Promise<HubSpotState> {
  const state: HubSpotState = { api: createApi(config), propertyTrouble: new Map() };
  const { api } = state;
  const pacing = { paid: true };
  const answer = await startupGet(config, api, ctx, pacing, `${api.preferencesPath}/definitions`);
  if (answer.status === 404) {
    throw new Error(
      `HubSpot at ${config.baseUrl} has no Communication Preferences API version "${config.apiVersion}": ${describeAnswer(answer)}`,
    );
  }

  const definitions = listOf(answer.body, "results") as {
    id?: unknown;
    name?: unknown;
    isActive?: unknown;
  }[];
  const found = definitions.find((d) => String(d?.id) === config.subscriptionId);
  if (!found) {
    const known = definitions.map((d) => `${String(d?.id)} (${String(d?.name)})`).join(", ") || "none";
    throw new Error(
      `subscriptionId ${config.subscriptionId} does not exist in this HubSpot account; its subscription types are: ${known}`,
    );
  }
  if (found.isActive === false) {
    ctx.logger.warn({ subscriptionId: config.subscriptionId }, "the HubSpot subscription type is not active");
  }

  const checked = new Set<string>();
  for (const key of ["smsProperty", "postalProperty"] as const) {
    const name = config[key];
    if (name === undefined || checked.has(name)) continue;
    checked.add(name);
    await checkProperty(config, api, ctx, pacing, key, name);
  }
  ctx.health.healthy();
  return state;
}

export const hubspot = defineConnector({
  name: "hubspot",
  configSchema: hubspotConfigSchema,
  handles: ["contact.acceptsEmail.changed", "contact.acceptsSms.changed", "contact.acceptsPostal.changed"],
  // A subscription status and two contact properties: one current value each, the newest wins.
  convergentConsent: true,
  maxBatchSize: BATCH_SIZE,
  // Single writes send one request per item, and the gateway paces `deliver` calls: one item per
  // call keeps its pacing exact. A batch call sends one request for every email status plus one per
  // mirrored SMS/postal contact, each after `ctx.pace()`.
  batchSizeFor: (config) => (config.batch ? BATCH_SIZE : 1),
  rateLimit: HUBSPOT_RATE_LIMIT,
  init,
  deliver,
});
