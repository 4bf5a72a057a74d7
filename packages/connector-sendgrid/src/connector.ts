import {
  type AppliedPreference,
  type DeliveryContextBase,
  type DeliveryItem,
  type DeliveryResult,
  dead,
  defineConnector,
  delivered,
  emailPreference,
  type PreferenceEvent,
  retry,
  skipped,
  throwForVerdict,
  withConsent,
} from "@engage-bridge/core";
import { type AddAnswer, type GroupCheck, SendGridApi, SendGridError } from "./api.ts";
import { type SendGridConfig, sendgridConfigSchema } from "./config.ts";

/**
 * Engage email opt-outs become SendGrid suppressions, opt-ins lift them:
 * `contact.acceptsEmail.changed` → the contact's address (from the Engage API) is added to the global
 * unsubscribes, or to the unsubscribe group `groupId`, when the contact does not accept email; and
 * removed from them when it does. The value applied is Engage's current one (`currentPreference`), so
 * redelivered and out-of-order events converge.
 *
 * Per batch: all additions in one POST (up to {@link MAX_ADDRESSES_PER_REQUEST} addresses each);
 * removals one DELETE each, one after the other. Rate limits come from SendGrid's own headers.
 *
 * SendGrid does not document what it does with a malformed address in a POST: it may refuse the
 * whole request (400), or answer 201 and leave the address (or every address) out of its echo. So an
 * address counts as added only when the 201 names it; a refused or unconfirmed request is halved
 * until the culprit is alone, and an address still unconfirmed is looked up before it is reported.
 */

/** Largest batch handed to `deliver` (each item may need an Engage lookup, 40/s by default: ~12 s). */
export const MAX_BATCH_SIZE = 500;
/**
 * Addresses per POST. SendGrid publishes no maximum for `recipient_emails`; 1000 addresses are about
 * 30–50 kB of JSON, well within what its API takes. Batches are smaller, so this rarely splits.
 */
export const MAX_ADDRESSES_PER_REQUEST = 1000;
/** Contact lookups in flight at once per batch (the Engage client paces them itself). */
export const LOOKUP_CONCURRENCY = 16;
/** How long a successful check that the unsubscribe group exists is trusted before the next POST. */
export const GROUP_RECHECK_MS = 60_000;

// Loose on purpose: SendGrid's own validation is not published; this only keeps obvious junk from
// failing a whole POST. Anything SendGrid still refuses is isolated by splitting the request.
const EMAIL = /^[^\s@]+@[^\s@]+$/;
const MAX_EMAIL_LENGTH = 320;

export interface SendGridConnectorOptions {
  /** Default {@link MAX_BATCH_SIZE}. */
  maxBatchSize?: number;
  /** Default {@link MAX_ADDRESSES_PER_REQUEST}. */
  maxAddressesPerRequest?: number;
  /** Default {@link GROUP_RECHECK_MS}; 0 checks before every POST. */
  groupRecheckMs?: number;
  /** Default {@link LOOKUP_CONCURRENCY}. */
  lookupConcurrency?: number;
}

/**
 * What one configured instance keeps from batch to batch. `init` makes it and the gateway hands it to
 * every `deliver` of that instance as `ctx.state` (connector contract v2), so two instances (two
 * accounts, or a group and the global list) never share a client, a rate-limit pause or a group check,
 * and nothing is kept in module-level maps keyed by the config.
 */
export interface SendGridState {
  /** The instance's own SDK client (never the SDK's shared default client). */
  readonly api: SendGridApi;
  /** No request before this time (`Date.now()`): SendGrid said the window is used up. */
  pausedUntil: number;
  /** When the unsubscribe group was last seen to exist (0: not yet). */
  groupCheckedAt: number;
  /** The group was found missing: the connector stays unhealthy until it exists again. */
  groupMissing: boolean;
}

/** A new instance's state: its own SDK client, no pause, the group not checked yet. Sends nothing. */
function createState(config: SendGridConfig): SendGridState {
  return { api: new SendGridApi(config), pausedUntil: 0, groupCheckedAt: 0, groupMissing: false };
}

/** One address to change: the value of the last item for it in the batch, and the items it settles. */
interface Change {
  email: string;
  suppress: boolean;
  items: number[];
}

/** What one item comes to before anything is sent: an address and its value, or its final result. */
type Resolved = { email: string; suppress: boolean; from: AppliedPreference["from"] } | DeliveryResult;

/** One result per item of the batch; `undefined` until the item is settled. */
type Results = (DeliveryResult | undefined)[];

/** An address looked up after a 201 left it out; `refused`: the lookup's refusal (masked). */
interface Looked {
  change: Change;
  listed: boolean;
  refused?: string;
}

interface Halt {
  result: DeliveryResult;
  rateLimited: boolean;
  waitMs: number;
}

/** "does not exist" (404) or "could not be confirmed" (any other answer), with what SendGrid said. */
const groupProblem = (groupId: number, check: { status: number; answer: string }) =>
  `unsubscribe group ${groupId} ${check.status === 404 ? "does not exist" : "could not be confirmed"} in ` +
  `SendGrid (GET /v3/asm/groups/${groupId} answered ${check.answer})`;

const GROUP_GONE = (groupId: number, check: { status: number; answer: string }) =>
  `${groupProblem(groupId, check)}; opt-outs are not sent, because SendGrid would put them on the ` +
  "global unsubscribe list (create the group or fix connectors.sendgrid.groupId)";

/** An address a 201 left out, looked up and not on the list: SendGrid did not take it. */
const NOT_ADDED = (groupId: number | undefined) =>
  "SendGrid answered 201 but did not add the address: its answer leaves it out and " +
  (groupId === undefined
    ? "GET /v3/asm/suppressions/global/<email> shows it is not suppressed"
    : `a search of unsubscribe group ${groupId} does not find it`) +
  " (SendGrid probably finds it malformed)";

/** An address a 201 left out whose lookup SendGrid refused too (`refusal` is already masked). */
const NOT_ADDED_REFUSED = (refusal: string) =>
  `SendGrid answered 201 but did not add the address: its answer leaves it out, and looking it up was refused (${refusal})`;

/** Runs `fn` over `items` with at most `limit` calls in flight; results in order. */
async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function chunk<T>(list: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < list.length; i += size) chunks.push(list.slice(i, i + size));
  return chunks;
}

/**
 * `init`'s start-up check in group mode: refuses to start when the group is not confirmed (SendGrid
 * would silently put opt-outs for an unknown group on the global list) or the key is refused; starts
 * unchecked when SendGrid cannot tell now, so that the check happens before the first POST.
 */
async function checkGroupAtStart(
  state: SendGridState,
  groupId: number,
  ctx: Pick<DeliveryContextBase<SendGridConfig>, "signal" | "health" | "logger">,
): Promise<void> {
  let check: GroupCheck;
  try {
    check = await state.api.groupExists(ctx.signal);
  } catch (error) {
    if (error instanceof SendGridError && error.kind === "unauthorized") {
      ctx.health.unhealthy(error.message);
      throw new Error(`${error.message}; cannot check unsubscribe group ${groupId}`);
    }
    // Cannot tell now (SendGrid down, rate limited): start, and check before the first POST.
    ctx.logger.warn(
      { status: error instanceof SendGridError ? error.status : undefined },
      "could not check the SendGrid unsubscribe group at start-up; checking before the first opt-out",
    );
    return;
  }
  if (!check.exists) {
    throw new Error(
      `${groupProblem(groupId, check)}; refusing to start, because SendGrid silently puts ` +
        "addresses sent to an unknown group on the GLOBAL unsubscribe list. Create the group or fix " +
        "connectors.sendgrid.groupId.",
    );
  }
  state.groupCheckedAt = Date.now();
  state.groupMissing = false;
  ctx.health.healthy();
}

/** SendGrid said its window is used up: the whole batch waits for the reset, without a request. */
function throwIfPaused(state: SendGridState): void {
  const pause = state.pausedUntil - Date.now();
  if (pause > 0) {
    throwForVerdict(
      { kind: "rate-limited", delayMs: pause },
      "SendGrid rate limit reached; waiting for its reset",
    );
  }
}

/** Resolves one item to a change (address and value) or to its final result. */
async function resolveItem(
  item: DeliveryItem<PreferenceEvent>,
  ctx: Pick<DeliveryContextBase<SendGridConfig>, "lookupContact" | "signal">,
): Promise<Resolved> {
  // The rule every email-keyed target shares (core): no lookup, unknown contact or no address →
  // skipped; lookup failure → retry; no value anywhere → dead.
  const preference = await emailPreference(item, ctx);
  if (preference.kind === "result") return preference.result;
  const email = preference.email.toLowerCase();
  if (email.length > MAX_EMAIL_LENGTH || !EMAIL.test(email)) {
    return dead("the contact's email address in Engage is not a valid address");
  }
  return { email, suppress: !preference.value, from: preference.from };
}

/**
 * One change per address; within the batch the later item wins (two contacts may share one), and the
 * earlier items of another value are skipped. Items that resolved to a result get it in `results`.
 */
function collectChanges(resolved: readonly Resolved[], results: Results): Change[] {
  const changes = new Map<string, Change>();
  resolved.forEach((r, index) => {
    if (!("email" in r)) {
      results[index] = r;
      return;
    }
    const existing = changes.get(r.email);
    if (existing && existing.suppress === r.suppress) {
      existing.items.push(index);
      return;
    }
    if (existing) {
      for (const i of existing.items) {
        results[i] = skipped("superseded by a later change of the same email address in this batch");
      }
      changes.delete(r.email);
    }
    changes.set(r.email, { email: r.email, suppress: r.suppress, items: [index] });
  });
  return [...changes.values()];
}

/** What `deliver` returns: every item settled (one left unsettled by a bug is retried, never lost). */
const finalResults = (results: Results): DeliveryResult[] => results.map((r) => r ?? retry("no result"));

/**
 * Writes one batch's changes to SendGrid, one request after the other, and settles their items in
 * `results`. It keeps the batch's bookkeeping: the first failure that concerns the whole batch (429,
 * refused key, 5xx) halts it, so no further request is sent and every change not yet sent gets that
 * failure's result; a rate-limit wait goes into the instance's state, so the next batch waits too.
 */
class SuppressionWriter {
  private readonly state: SendGridState;
  private readonly api: SendGridApi;
  private readonly ctx: Pick<DeliveryContextBase<SendGridConfig>, "signal" | "health" | "pace">;
  private readonly results: Results;
  private halt: Halt | undefined;
  /** Changes SendGrid took. */
  private written = 0;
  /** Addresses a 201 did not name (looked up or split again); a count for the log. */
  private unconfirmedCount = 0;
  private requests = 0;

  constructor(state: SendGridState, ctx: SuppressionWriter["ctx"], results: Results) {
    this.state = state;
    this.api = state.api;
    this.ctx = ctx;
    this.results = results;
  }

  /** SendGrid took a request: healthy, unless the group is missing (which stays reported). */
  private healthy(): void {
    if (!this.state.groupMissing) this.ctx.health.healthy();
  }

  /**
   * Before each request: the gateway reserved one for this call; every further one waits for the
   * connector's pace (`connectors.sendgrid.rateLimit`, when set). Requests go one after the other.
   */
  private async beforeRequest(): Promise<void> {
    if (this.requests > 0) await this.ctx.pace?.();
    this.requests += 1;
  }

  private settle(list: readonly Change[], result: DeliveryResult): void {
    for (const change of list) for (const i of change.items) this.results[i] = result;
  }

  /** An answer said "no requests left for `waitMs`": pause the instance, and halt the batch. */
  private noteWait(waitMs: number): void {
    if (waitMs <= 0) return;
    this.state.pausedUntil = Math.max(this.state.pausedUntil, Date.now() + waitMs);
    this.halt ??= {
      result: retry("SendGrid rate limit reached; continuing after its reset", waitMs),
      rateLimited: true,
      waitMs,
    };
  }

  /** A failed call: halts the batch (or settles just `list` when only that request was bad). */
  private fail(error: SendGridError, list: readonly Change[]): void {
    switch (error.kind) {
      case "rate-limited":
        this.state.pausedUntil = Math.max(this.state.pausedUntil, Date.now() + error.waitMs);
        this.halt ??= { result: retry(error.message, error.waitMs), rateLimited: true, waitMs: error.waitMs };
        this.settle(list, this.halt.result);
        return;
      case "unauthorized":
        this.ctx.health.unhealthy(error.message);
        this.halt ??= { result: dead(error.message), rateLimited: false, waitMs: 0 };
        this.settle(list, this.halt.result);
        return;
      case "transient":
        this.halt ??= { result: retry(error.message, error.retryAfterMs), rateLimited: false, waitMs: 0 };
        this.settle(list, this.halt.result);
        this.noteWait(error.waitMs);
        return;
      case "rejected":
        this.settle(list, dead(error.message));
        this.noteWait(error.waitMs);
        return;
    }
  }

  /** Sends one request for `list` (unless halted); whether SendGrid took it. A failure settles `list`. */
  private async call(list: readonly Change[], request: () => Promise<{ waitMs: number }>): Promise<boolean> {
    if (this.halt) {
      this.settle(list, this.halt.result);
      return false;
    }
    await this.beforeRequest();
    try {
      const answer = await request();
      this.healthy();
      this.noteWait(answer.waitMs);
      return true;
    } catch (error) {
      if (!(error instanceof SendGridError)) throw error;
      if (error.kind === "rejected") this.healthy();
      this.fail(error, list);
      return false;
    }
  }

  /**
   * Group mode: before opt-outs are POSTed, confirms that the group still exists when the last check
   * is older than `recheckMs` (SendGrid would put addresses sent to a missing group on the global
   * list). Whether `additions` may be sent; when not, they are settled here (dead when the group is
   * not confirmed, and the operator must act; the check's failure otherwise).
   */
  async groupConfirmedFor(additions: readonly Change[], recheckMs: number): Promise<boolean> {
    const { api, state } = this;
    const groupId = api.groupId;
    if (additions.length === 0 || groupId === undefined || Date.now() - state.groupCheckedAt < recheckMs) {
      return true;
    }
    const seen: { check?: GroupCheck } = {};
    const checked = await this.call(additions, async () => {
      const check = await api.groupExists(this.ctx.signal);
      seen.check = check;
      state.groupMissing = !check.exists;
      return check;
    });
    const check = seen.check;
    if (checked && check?.exists) {
      state.groupCheckedAt = Date.now();
      return true;
    }
    if (checked && check && !check.exists) {
      const reason = GROUP_GONE(groupId, check);
      this.ctx.health.unhealthy(reason);
      this.settle(additions, dead(reason));
    }
    return false;
  }

  /** All opt-outs, in POSTs of at most `maxAddresses`. */
  async addAll(additions: readonly Change[], maxAddresses: number): Promise<void> {
    for (const list of chunk(additions, maxAddresses)) await this.add(list);
  }

  /** All opt-ins: one DELETE each, one after the other (SendGrid has no bulk delete). */
  async removeAll(removals: readonly Change[]): Promise<void> {
    for (const change of removals) {
      const ok = await this.call([change], () => this.api.removeSuppression(change.email, this.ctx.signal));
      if (ok) {
        this.written += 1;
        this.settle([change], delivered());
      }
    }
  }

  /** Counts for the log line: never an address. */
  summary(added: number, removed: number) {
    return {
      added,
      removed,
      written: this.written,
      unconfirmed: this.unconfirmedCount,
      requests: this.requests,
      halted: this.halt !== undefined,
    };
  }

  /** Nothing went through and SendGrid said "too many requests": tell the gateway to slow down too. */
  throwIfOnlyRateLimited(): void {
    const halt = this.halt;
    if (
      halt?.rateLimited &&
      this.written === 0 &&
      this.results.every((r) => r === undefined || r.status === "retry")
    ) {
      throwForVerdict(
        { kind: "rate-limited", delayMs: halt.waitMs },
        halt.result.status === "retry" ? halt.result.reason : "rate limited",
      );
    }
  }

  /**
   * Looks `list` up on the list written to (one request in group mode, one per address in global
   * mode). Addresses whose lookup failed are settled (retry, dead) and left out; a lookup refused
   * as a whole is halved like a POST, and a single refused one comes back with the refusal.
   */
  private async lookUp(list: readonly Change[]): Promise<Looked[]> {
    if (list.length === 0) return [];
    if (this.halt) {
      this.settle(list, this.halt.result);
      return [];
    }
    if (!this.api.lookUpMany && list.length > 1) {
      const looked: Looked[] = [];
      for (const change of list) looked.push(...(await this.lookUp([change])));
      return looked;
    }
    await this.beforeRequest();
    try {
      const answer = await this.api.lookUp(
        list.map((c) => c.email),
        this.ctx.signal,
      );
      this.healthy();
      this.noteWait(answer.waitMs);
      return list.map((change) => ({ change, listed: answer.listed.has(change.email) }));
    } catch (error) {
      if (!(error instanceof SendGridError)) throw error;
      if (error.kind === "rejected") {
        this.healthy();
        this.noteWait(error.waitMs);
        if (list.length === 1)
          return list.map((change) => ({ change, listed: false, refused: error.message }));
        const middle = Math.ceil(list.length / 2);
        return [...(await this.lookUp(list.slice(0, middle))), ...(await this.lookUp(list.slice(middle)))];
      }
      if (error.status >= 200 && error.status < 300) {
        // An answer that says nothing either way: SendGrid is up, so only these wait for another try.
        this.settle(list, retry(error.message, error.waitMs > 0 ? error.waitMs : undefined));
        this.noteWait(error.waitMs);
        return [];
      }
      this.fail(error, list);
      return [];
    }
  }

  /** POSTs the two halves of `list`, one after the other: isolates the address SendGrid will not take. */
  private async split(list: readonly Change[]): Promise<void> {
    const middle = Math.ceil(list.length / 2);
    await this.add(list.slice(0, middle));
    await this.add(list.slice(middle));
  }

  /**
   * POSTs `list`. An address counts as added when the 201 names it, or when a lookup finds it on
   * the list; SendGrid documents no answer for a malformed address. A request refused as a whole
   * (400, 413), or of which nothing was confirmed, is halved until the culprit is alone; an address
   * left out while others of its request were taken, or sent alone, is dead.
   */
  private async add(list: readonly Change[]): Promise<void> {
    if (this.halt) return this.settle(list, this.halt.result);
    await this.beforeRequest();
    let answer: AddAnswer;
    try {
      answer = await this.api.addSuppressions(
        list.map((c) => c.email),
        this.ctx.signal,
      );
    } catch (error) {
      if (!(error instanceof SendGridError)) throw error;
      if (error.kind === "rejected") this.healthy();
      if (error.kind === "rejected" && (error.status === 400 || error.status === 413) && list.length > 1) {
        this.noteWait(error.waitMs);
        return this.split(list);
      }
      return this.fail(error, list);
    }
    this.healthy();
    this.noteWait(answer.waitMs);
    let taken = false;
    const take = (change: Change) => {
      taken = true;
      this.written += 1;
      this.settle([change], delivered());
    };
    const unconfirmed: Change[] = [];
    for (const change of list) {
      if (answer.echoed?.has(change.email)) take(change);
      else unconfirmed.push(change);
    }
    if (unconfirmed.length === 0) return;
    this.unconfirmedCount += unconfirmed.length;
    // Nothing named: SendGrid may have dropped the whole request because of one address. Halving
    // finds it; only a lookup of the whole lot in one request is cheaper (group mode).
    if (!taken && list.length > 1 && !this.api.lookUpMany) return this.split(list);
    const absent: Looked[] = [];
    for (const looked of await this.lookUp(unconfirmed)) {
      if (looked.listed) take(looked.change);
      else absent.push(looked);
    }
    if (absent.length === 0) return;
    if (!taken && list.length > 1) return this.split(absent.map((a) => a.change));
    for (const { change, refused } of absent) {
      this.settle([change], dead(refused ? NOT_ADDED_REFUSED(refused) : NOT_ADDED(this.api.groupId)));
    }
  }
}

export function createSendGridConnector(options: SendGridConnectorOptions = {}) {
  const maxAddresses = options.maxAddressesPerRequest ?? MAX_ADDRESSES_PER_REQUEST;
  const groupRecheckMs = options.groupRecheckMs ?? GROUP_RECHECK_MS;
  const lookupConcurrency = options.lookupConcurrency ?? LOOKUP_CONCURRENCY;

  return defineConnector({
    name: "sendgrid",
    configSchema: sendgridConfigSchema,
    handles: ["contact.acceptsEmail.changed"],
    // A suppression is one current state per address: the newest change wins.
    convergentConsent: true,
    maxBatchSize: options.maxBatchSize ?? MAX_BATCH_SIZE,

    /**
     * Makes the instance's state (its SDK client, rate-limit pause, group check); in group mode also
     * checks the group. Global mode sends nothing.
     */
    async init(config, ctx): Promise<SendGridState> {
      const state = createState(config);
      if (config.groupId !== undefined) await checkGroupAtStart(state, config.groupId, ctx);
      return state;
    },

    async deliver(items, ctx) {
      const { state } = ctx;
      // The type promises it; a gateway from before contract v2 would not pass it. Thrown as a plain
      // error, the batch is retried (never lost) and the message says what is wrong.
      if (!state) throw new Error("sendgrid: deliver called without the state init returned (ctx.state)");
      throwIfPaused(state);

      const results: Results = new Array(items.length);
      const resolved = await mapLimit(items, lookupConcurrency, (item) => resolveItem(item, ctx));
      const changes = collectChanges(resolved, results);
      if (changes.length === 0) return finalResults(results);

      const writer = new SuppressionWriter(state, ctx, results);
      const additions = changes.filter((c) => c.suppress);
      const removals = changes.filter((c) => !c.suppress);
      // A group not confirmed: its opt-outs are settled and none is sent (they would go global).
      const toAdd = (await writer.groupConfirmedFor(additions, groupRecheckMs)) ? additions : [];
      await writer.addAll(toAdd, maxAddresses);
      await writer.removeAll(removals);

      ctx.logger.info(writer.summary(toAdd.length, removals.length), "sendgrid suppressions updated");
      writer.throwIfOnlyRateLimited();
      return withConsent(finalResults(results), appliedValues(changes, resolved));
    },
  });
}

/** Per item of a change: the value the change applied (a suppression means "does not accept") and its source. */
function appliedValues(
  changes: readonly Change[],
  resolved: readonly Resolved[],
): Map<number, AppliedPreference> {
  const applied = new Map<number, AppliedPreference>();
  for (const change of changes)
    for (const i of change.items) {
      const r = resolved[i];
      if (r && "from" in r) applied.set(i, { value: !change.suppress, from: r.from });
    }
  return applied;
}

/** The SendGrid connector with its defaults: register it with the gateway. */
export const sendgridConnector = createSendGridConnector();
