import {
  currentPreference,
  type DeliveryContext,
  type DeliveryItem,
  type DeliveryResult,
  dead,
  defineConnector,
  delivered,
  type PreferenceEvent,
  RetryableError,
  retry,
  skipped,
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

/** What the connector keeps per configuration (one gateway = one config object). */
interface ConnectorState {
  api: SendGridApi;
  /** No request before this time (`Date.now()`): SendGrid said the window is used up. */
  pausedUntil: number;
  /** When the unsubscribe group was last seen to exist (0: not yet). */
  groupCheckedAt: number;
  /** The group was found missing: the connector stays unhealthy until it exists again. */
  groupMissing: boolean;
}

/** One address to change: the value of the last item for it in the batch, and the items it settles. */
interface Change {
  email: string;
  suppress: boolean;
  items: number[];
}

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

function lookupFailure(error: unknown): DeliveryResult {
  const message = error instanceof Error ? error.message : String(error);
  const text = message.startsWith("contact lookup") ? message : `contact lookup failed: ${message}`;
  const hint = (error as { retryAfterMs?: unknown } | null)?.retryAfterMs;
  return retry(text.slice(0, 300), typeof hint === "number" && hint > 0 ? hint : undefined);
}

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

export function createSendGridConnector(options: SendGridConnectorOptions = {}) {
  const maxAddresses = options.maxAddressesPerRequest ?? MAX_ADDRESSES_PER_REQUEST;
  const groupRecheckMs = options.groupRecheckMs ?? GROUP_RECHECK_MS;
  const lookupConcurrency = options.lookupConcurrency ?? LOOKUP_CONCURRENCY;
  const states = new WeakMap<SendGridConfig, ConnectorState>();

  const stateFor = (config: SendGridConfig): ConnectorState => {
    let state = states.get(config);
    if (!state) {
      state = { api: new SendGridApi(config), pausedUntil: 0, groupCheckedAt: 0, groupMissing: false };
      states.set(config, state);
    }
    return state;
  };

  /** Resolves one item to a change (address and value) or to its final result. */
  async function resolve(
    item: DeliveryItem<PreferenceEvent>,
    ctx: DeliveryContext<SendGridConfig>,
  ): Promise<{ email: string; suppress: boolean } | DeliveryResult> {
    if (!ctx.lookupContact) {
      return skipped(
        "no Engage API lookup is configured for this source, so the email address is unknown " +
          "(configure sources.<name>.engageApi)",
      );
    }
    let preference: Awaited<ReturnType<typeof currentPreference>>;
    try {
      preference = await currentPreference(item, ctx);
    } catch (error) {
      if (ctx.signal.aborted) throw error;
      return lookupFailure(error);
    }
    if (!preference.contact) return skipped("contact not found in Engage");
    const email = preference.contact.email?.trim().toLowerCase();
    if (!email) return skipped("contact has no email address in Engage");
    if (email.length > MAX_EMAIL_LENGTH || !EMAIL.test(email)) {
      return dead("the contact's email address in Engage is not a valid address");
    }
    if (preference.value === undefined) {
      return dead("neither Engage nor the event says whether the contact accepts email");
    }
    return { email, suppress: !preference.value };
  }

  return defineConnector({
    name: "sendgrid",
    configSchema: sendgridConfigSchema,
    handles: ["contact.acceptsEmail.changed"],
    maxBatchSize: options.maxBatchSize ?? MAX_BATCH_SIZE,

    async init(config, ctx) {
      if (config.groupId === undefined) return;
      const state = stateFor(config);
      let check: Awaited<ReturnType<SendGridApi["groupExists"]>>;
      try {
        check = await state.api.groupExists(ctx.signal);
      } catch (error) {
        if (error instanceof SendGridError && error.kind === "unauthorized") {
          ctx.health.unhealthy(error.message);
          throw new Error(`${error.message}; cannot check unsubscribe group ${config.groupId}`);
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
          `${groupProblem(config.groupId, check)}; refusing to start, because SendGrid silently puts ` +
            "addresses sent to an unknown group on the GLOBAL unsubscribe list. Create the group or fix " +
            "connectors.sendgrid.groupId.",
        );
      }
      state.groupCheckedAt = Date.now();
      state.groupMissing = false;
      ctx.health.healthy();
    },

    async deliver(items, ctx) {
      const { config, signal, logger, health } = ctx;
      const state = stateFor(config);
      const { api } = state;

      const pause = state.pausedUntil - Date.now();
      if (pause > 0) {
        throw new RetryableError("SendGrid rate limit reached; waiting for its reset", {
          delayMs: pause,
          rateLimited: true,
        });
      }

      const results: (DeliveryResult | undefined)[] = new Array(items.length);
      const resolved = await mapLimit(items, lookupConcurrency, (item) => resolve(item, ctx));

      // One change per address; within the batch the later item wins (two contacts may share one).
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
      if (changes.size === 0) return results.map((r) => r ?? retry("no result"));

      /** SendGrid took a request: healthy, unless the group is missing (which stays reported). */
      const healthy = () => {
        if (!state.groupMissing) health.healthy();
      };
      let halt: Halt | undefined;
      let written = 0;
      /** Addresses a 201 did not name (looked up or split again); a count for the log. */
      let unconfirmedCount = 0;
      let requests = 0;
      /**
       * Before each request: the gateway reserved one for this call; every further one waits for the
       * connector's pace (`connectors.sendgrid.rateLimit`, when set). Requests go one after the other.
       */
      const beforeRequest = async () => {
        if (requests > 0) await ctx.pace?.();
        requests += 1;
      };
      const settle = (list: readonly Change[], result: DeliveryResult) => {
        for (const change of list) for (const i of change.items) results[i] = result;
      };
      const noteWait = (waitMs: number) => {
        if (waitMs <= 0) return;
        state.pausedUntil = Math.max(state.pausedUntil, Date.now() + waitMs);
        halt ??= {
          result: retry("SendGrid rate limit reached; continuing after its reset", waitMs),
          rateLimited: true,
          waitMs,
        };
      };
      /** A failed call: halts the batch (or settles just `list` when only that request was bad). */
      const fail = (error: SendGridError, list: readonly Change[]) => {
        switch (error.kind) {
          case "rate-limited":
            state.pausedUntil = Math.max(state.pausedUntil, Date.now() + error.waitMs);
            halt ??= { result: retry(error.message, error.waitMs), rateLimited: true, waitMs: error.waitMs };
            settle(list, halt.result);
            return;
          case "unauthorized":
            health.unhealthy(error.message);
            halt ??= { result: dead(error.message), rateLimited: false, waitMs: 0 };
            settle(list, halt.result);
            return;
          case "transient":
            halt ??= { result: retry(error.message), rateLimited: false, waitMs: 0 };
            settle(list, halt.result);
            noteWait(error.waitMs);
            return;
          case "rejected":
            settle(list, dead(error.message));
            noteWait(error.waitMs);
            return;
        }
      };
      const call = async (list: readonly Change[], request: () => Promise<{ waitMs: number }>) => {
        if (halt) {
          settle(list, halt.result);
          return false;
        }
        await beforeRequest();
        try {
          const answer = await request();
          healthy();
          noteWait(answer.waitMs);
          return true;
        } catch (error) {
          if (!(error instanceof SendGridError)) throw error;
          if (error.kind === "rejected") healthy();
          fail(error, list);
          return false;
        }
      };

      /**
       * Looks `list` up on the list written to (one request in group mode, one per address in global
       * mode). Addresses whose lookup failed are settled (retry, dead) and left out; a lookup refused
       * as a whole is halved like a POST, and a single refused one comes back with the refusal.
       */
      const lookUp = async (list: readonly Change[]): Promise<Looked[]> => {
        if (list.length === 0) return [];
        if (halt) {
          settle(list, halt.result);
          return [];
        }
        if (!api.lookUpMany && list.length > 1) {
          const looked: Looked[] = [];
          for (const change of list) looked.push(...(await lookUp([change])));
          return looked;
        }
        await beforeRequest();
        try {
          const answer = await api.lookUp(
            list.map((c) => c.email),
            signal,
          );
          healthy();
          noteWait(answer.waitMs);
          return list.map((change) => ({ change, listed: answer.listed.has(change.email) }));
        } catch (error) {
          if (!(error instanceof SendGridError)) throw error;
          if (error.kind === "rejected") {
            healthy();
            noteWait(error.waitMs);
            if (list.length === 1)
              return list.map((change) => ({ change, listed: false, refused: error.message }));
            const middle = Math.ceil(list.length / 2);
            return [...(await lookUp(list.slice(0, middle))), ...(await lookUp(list.slice(middle)))];
          }
          if (error.status >= 200 && error.status < 300) {
            // An answer that says nothing either way: SendGrid is up, so only these wait for another try.
            settle(list, retry(error.message, error.waitMs > 0 ? error.waitMs : undefined));
            noteWait(error.waitMs);
            return [];
          }
          fail(error, list);
          return [];
        }
      };

      const split = async (list: readonly Change[]) => {
        const middle = Math.ceil(list.length / 2);
        await add(list.slice(0, middle));
        await add(list.slice(middle));
      };

      /**
       * POSTs `list`. An address counts as added when the 201 names it, or when a lookup finds it on
       * the list; SendGrid documents no answer for a malformed address. A request refused as a whole
       * (400, 413), or of which nothing was confirmed, is halved until the culprit is alone; an address
       * left out while others of its request were taken, or sent alone, is dead.
       */
      const add = async (list: readonly Change[]): Promise<void> => {
        if (halt) return settle(list, halt.result);
        await beforeRequest();
        let answer: AddAnswer;
        try {
          answer = await api.addSuppressions(
            list.map((c) => c.email),
            signal,
          );
        } catch (error) {
          if (!(error instanceof SendGridError)) throw error;
          if (error.kind === "rejected") healthy();
          if (
            error.kind === "rejected" &&
            (error.status === 400 || error.status === 413) &&
            list.length > 1
          ) {
            noteWait(error.waitMs);
            return split(list);
          }
          return fail(error, list);
        }
        healthy();
        noteWait(answer.waitMs);
        let taken = false;
        const take = (change: Change) => {
          taken = true;
          written += 1;
          settle([change], delivered());
        };
        const unconfirmed: Change[] = [];
        for (const change of list) {
          if (answer.echoed?.has(change.email)) take(change);
          else unconfirmed.push(change);
        }
        if (unconfirmed.length === 0) return;
        unconfirmedCount += unconfirmed.length;
        // Nothing named: SendGrid may have dropped the whole request because of one address. Halving
        // finds it; only a lookup of the whole lot in one request is cheaper (group mode).
        if (!taken && list.length > 1 && !api.lookUpMany) return split(list);
        const absent: Looked[] = [];
        for (const looked of await lookUp(unconfirmed)) {
          if (looked.listed) take(looked.change);
          else absent.push(looked);
        }
        if (absent.length === 0) return;
        if (!taken && list.length > 1) return split(absent.map((a) => a.change));
        for (const { change, refused } of absent) {
          settle([change], dead(refused ? NOT_ADDED_REFUSED(refused) : NOT_ADDED(api.groupId)));
        }
      };

      const additions = [...changes.values()].filter((c) => c.suppress);
      const removals = [...changes.values()].filter((c) => !c.suppress);

      if (
        additions.length > 0 &&
        api.groupId !== undefined &&
        Date.now() - state.groupCheckedAt >= groupRecheckMs
      ) {
        const seen: { check?: GroupCheck } = {};
        const checked = await call(additions, async () => {
          const check = await api.groupExists(signal);
          seen.check = check;
          state.groupMissing = !check.exists;
          return check;
        });
        const check = seen.check;
        if (checked && check?.exists) state.groupCheckedAt = Date.now();
        else {
          // Not confirmed (dead, and the operator must act), or the check failed (settled by `call`).
          if (checked && check && !check.exists) {
            const reason = GROUP_GONE(api.groupId, check);
            health.unhealthy(reason);
            settle(additions, dead(reason));
          }
          additions.length = 0;
        }
      }
      for (const list of chunk(additions, maxAddresses)) await add(list);
      for (const change of removals) {
        const ok = await call([change], () => api.removeSuppression(change.email, signal));
        if (ok) {
          written += 1;
          settle([change], delivered());
        }
      }

      logger.info(
        {
          added: additions.length,
          removed: removals.length,
          written,
          unconfirmed: unconfirmedCount,
          requests,
          halted: halt !== undefined,
        },
        "sendgrid suppressions updated",
      );
      // Nothing went through and SendGrid said "too many requests": tell the gateway to slow down too.
      if (
        halt?.rateLimited &&
        written === 0 &&
        results.every((r) => r === undefined || r.status === "retry")
      ) {
        throw new RetryableError(halt.result.status === "retry" ? halt.result.reason : "rate limited", {
          delayMs: halt.waitMs,
          rateLimited: true,
        });
      }
      return results.map((r) => r ?? retry("no result"));
    },
  });
}

/** The SendGrid connector with its defaults: register it with the gateway. */
export const sendgridConnector = createSendGridConnector();
