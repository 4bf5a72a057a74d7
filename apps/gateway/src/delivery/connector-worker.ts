import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import {
  batchSizeOf,
  type ConnectorHealth,
  type ContactLookup,
  type DeliveryItem,
  type DeliveryResult,
  type EngageEvent,
  isPreferenceEvent,
  parseEngageEvent,
  type RateLimit,
  RetryableError,
  settleBatch,
} from "@engage-bridge/core";
import { context } from "@opentelemetry/api";
import type { AnyConnector } from "../connectors/registry.ts";
import type { Logger } from "../logger.ts";
import type { AttemptRecord, DeliveryUpdate, LeasedDelivery, Store } from "../store/store.ts";
import { consentDecisions, orderKey } from "./consent-guard.ts";
import { endDeliverySpan, startDeliverySpan } from "./delivery-span.ts";
import type { DeliveryMetrics } from "./metrics.ts";
import { Pacer, type PacerSlot } from "./pacer.ts";
import { giveUpReason, nextDelayMs, type RetryPolicy } from "./retry-policy.ts";

export interface SourceRuntime {
  payloadKey: string | undefined;
  lookup: ContactLookup | undefined;
}

export interface ConnectorWorkerOptions {
  /** The instance name: deliveries, metrics, health and logs are keyed by it. */
  name: string;
  connector: AnyConnector;
  config: unknown;
  rateLimit: RateLimit | undefined;
  store: Store;
  sources: ReadonlyMap<string, SourceRuntime>;
  policy: RetryPolicy;
  logger: Logger;
  metrics: DeliveryMetrics;
  attemptTimeoutMs: number;
  pollMs: number;
  health: ConnectorHealth;
}

/** A leased delivery with its event read back; `reasserted` when the guard sends a newer event in its place. */
interface Entry {
  leased: LeasedDelivery;
  item: DeliveryItem;
  reasserted?: boolean;
}

/** What one `deliver` call came to: a result per item, and whether the target throttled it. */
interface Call {
  results: DeliveryResult[];
  throttled: boolean;
  startedAt: Date;
  durationMs: number;
}

/** The paced requests of one batch: the one reserved before leasing, then one per `ctx.pace()`. */
interface Paced {
  slots: PacerSlot[];
  /** Whether `deliver` was called (else the reserved slot was never used). */
  called: boolean;
}

/**
 * Delivers one connector's queue: `concurrency` slots, each leasing a batch of due deliveries,
 * calling the connector, and recording every item's outcome. Nothing here is shared with other
 * connectors (own pacer, own slots), so a slow or failing target never delays another one.
 */
export class ConnectorWorker {
  readonly name: string;
  private readonly owner = `${process.pid}:${randomUUID()}`;
  private readonly pacer: Pacer;
  private state: unknown;
  private readonly convergent: boolean;
  private readonly stopping = new AbortController();
  private readonly abortAll = new AbortController();
  private wakeUp: (() => void) | undefined;
  private slots: Promise<void>[] = [];
  private readonly log: Logger;
  private readonly leaseMs: number;
  private readonly batchSize: number;
  private readonly options: ConnectorWorkerOptions;

  constructor(options: ConnectorWorkerOptions) {
    this.options = options;
    this.name = options.name;
    this.pacer = new Pacer(options.rateLimit);
    this.batchSize = batchSizeOf(options.connector, options.config);
    this.convergent = options.connector.convergentConsent === true;
    this.log = options.logger.child({ connector: this.name });
    // A lease outlives the slowest attempt, so a live worker never loses work to another one.
    this.leaseMs = options.attemptTimeoutMs * 2 + 10_000;
  }

  start(): void {
    for (let i = 0; i < this.options.connector.concurrency; i++) this.slots.push(this.runSlot());
  }

  /**
   * Runs `fn` (e.g. the connector's `init`) with one paced request reserved and `pace` for more, so
   * that requests made outside `deliver` count against the target's limit too.
   */
  /** What the connector's `init` returned for this instance; `ctx.state` of every `deliver`. */
  useState(state: unknown): void {
    this.state = state;
  }

  async paced<T>(signal: AbortSignal, fn: (pace: () => Promise<void>) => Promise<T>): Promise<T> {
    const slots = [await this.pacer.acquire(signal)];
    try {
      return await fn(() => this.nextSlot(slots, signal));
    } finally {
      for (const slot of slots) slot.release();
    }
  }

  /**
   * `ctx.pace()`: the connector's requests are sequential, so the previous one was answered: its slot
   * is released (it counts for one more window from now) before the next one is taken. Holding it
   * would let a call that needs more requests than the limit allows wait for itself forever.
   */
  private async nextSlot(slots: PacerSlot[], signal: AbortSignal): Promise<void> {
    slots.at(-1)?.release();
    slots.push(await this.pacer.acquire(signal));
  }

  /** New work was committed: look now instead of at the next poll. */
  wake(): void {
    this.wakeUp?.();
  }

  /** Stops leasing, lets in-flight batches finish within `timeoutMs`, then aborts them and gives their leases back. */
  async stop(timeoutMs: number): Promise<void> {
    this.stopping.abort();
    this.wake();
    const timer = setTimeout(() => this.abortAll.abort(), timeoutMs);
    await Promise.allSettled(this.slots);
    clearTimeout(timer);
    await this.options.store.releaseLeases(this.owner).catch(() => 0);
  }

  private async idle(): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>();
    this.wakeUp = resolve;
    const timer = setTimeout(resolve, this.options.pollMs);
    await promise;
    clearTimeout(timer);
    this.wakeUp = undefined;
  }

  private async runSlot(): Promise<void> {
    const { store } = this.options;
    while (!this.stopping.signal.aborted) {
      try {
        // Pace before leasing, so that leased work never waits for the rate limit while its lease runs.
        // The slot pays for the first request of the batch; `ctx.pace` takes more.
        let slot: PacerSlot | undefined = await this.pacer.acquire(this.stopping.signal);
        let leased: LeasedDelivery[];
        try {
          leased = await store.leaseDue(this.name, this.batchSize, this.owner, this.leaseMs);
        } catch (error) {
          slot.cancel();
          throw error;
        }
        if (leased.length === 0) {
          slot.cancel();
          await this.idle();
          continue;
        }
        for (const group of Map.groupBy(leased, (l) => l.event.source).values()) {
          slot ??= await this.pacer.acquire(this.abortAll.signal);
          await this.runBatch(group, slot);
          slot = undefined;
        }
      } catch (error) {
        if (this.stopping.signal.aborted) break;
        this.log.error({ err: { message: (error as Error).message } }, "delivery loop error; retrying");
        await sleep(Math.min(5_000, this.options.pollMs * 4)).catch(() => undefined);
      }
    }
  }

  /** Delivers one leased batch; `slot` is the paced request reserved for it, given back at the end. */
  private async runBatch(leased: readonly LeasedDelivery[], slot: PacerSlot): Promise<void> {
    const paced: Paced = { slots: [slot], called: false };
    try {
      await this.deliverBatch(leased, paced);
    } finally {
      // Slots of requests that may have been sent keep counting for a window; an unused one does not.
      const [first, ...more] = paced.slots;
      if (paced.called) first?.release();
      else first?.cancel();
      for (const s of more) s.release();
    }
  }

  /**
   * One leased batch, in five steps: read the stored events, let the consent guard decide (connectors
   * that declare convergent consent), call the connector, turn its results into updates (the retry
   * policy), record them. A shutdown during the call records nothing: the leases go back untouched.
   */
  private async deliverBatch(leased: readonly LeasedDelivery[], paced: Paced): Promise<void> {
    const source = this.options.sources.get(leased[0]?.event.source ?? "");
    const updates: DeliveryUpdate[] = [];
    const items = this.readItems(leased, source, updates);
    const toDeliver = await this.guardConsent(items, source, updates);
    if (toDeliver.length > 0) {
      const call = await this.callConnector(toDeliver, source, paced);
      if (!call) return;
      updates.push(...this.updatesFor(toDeliver, call));
    }
    await this.record(updates);
  }

  /** Events are stored raw: parsed again with the source's current payload key; unreadable ones die. */
  private readItems(
    leased: readonly LeasedDelivery[],
    source: SourceRuntime | undefined,
    updates: DeliveryUpdate[],
  ): Entry[] {
    const items: Entry[] = [];
    for (const l of leased) {
      if (!source) {
        updates.push({
          deliveryId: l.deliveryId,
          status: "dead",
          error: `source ${l.event.source} is no longer configured`,
        });
        continue;
      }
      let event: EngageEvent;
      try {
        event = parseEngageEvent(l.event.body, { messageId: l.event.svixId, payloadKey: source.payloadKey });
      } catch (error) {
        updates.push({
          deliveryId: l.deliveryId,
          status: "dead",
          error: `stored event cannot be parsed: ${(error as Error).message}`,
        });
        continue;
      }
      items.push({
        leased: l,
        item: {
          deliveryId: l.deliveryId,
          event,
          attempt: l.attempts + 1,
          receivedAt: l.event.receivedAt,
          maybeSentBefore: l.maybeSentBefore,
        },
      });
    }
    return items;
  }

  /**
   * Without the Engage API, order decides: for a target that keeps one current value (the connector
   * declares it), older preference changes never overwrite newer ones; they are skipped, or the newer
   * event is sent again in their place. Other connectors get every event as it was sent, under its
   * own id.
   */
  private async guardConsent(
    items: Entry[],
    source: SourceRuntime | undefined,
    updates: DeliveryUpdate[],
  ): Promise<Entry[]> {
    if (!source || source.lookup || !this.convergent) return items;
    const decisions = await consentDecisions(
      items.map((i) => ({ ...i.item, maybeSentBefore: i.leased.maybeSentBefore })),
      (contactId, channel) => this.options.store.appliedConsent(this.name, contactId, channel),
    );
    const toDeliver: Entry[] = [];
    items.forEach((entry, index) => {
      const decision = decisions[index];
      if (decision === undefined) {
        toDeliver.push(entry);
        return;
      }
      if ("reassert" in decision) {
        try {
          const newer = parseEngageEvent(decision.reassert.body, {
            messageId: decision.reassert.svixId,
            payloadKey: source.payloadKey,
          });
          const item = { ...entry.item, event: newer, receivedAt: decision.reassert.receivedAt };
          toDeliver.push({ leased: entry.leased, item, reasserted: true });
          return;
        } catch {
          // The newer event can no longer be read: skipping is all that is left.
        }
      }
      const reason = "skip" in decision ? decision.skip : decision.reason;
      const newer = "skip" in decision ? decision.supersededBy : decision.reassert.eventId;
      updates.push({
        deliveryId: entry.leased.deliveryId,
        status: "skipped",
        error: reason,
        attempt: {
          startedAt: new Date(),
          durationMs: 0,
          outcome: "skipped",
          error: reason,
          consent: newer === undefined ? undefined : { supersededBy: newer, reason },
        },
      });
    });
    return toDeliver;
  }

  /**
   * Calls `deliver` under the attempt timeout, settles what it returned or threw into one result per
   * item, and adjusts the pace (a rate-limited error slows the connector; a result other than retry
   * speeds it up again). `undefined` when the gateway is shutting down.
   */
  private async callConnector(
    toDeliver: Entry[],
    source: SourceRuntime | undefined,
    paced: Paced,
  ): Promise<Call | undefined> {
    const { connector, metrics } = this.options;
    const startedAt = new Date();
    const signal = AbortSignal.any([
      this.abortAll.signal,
      AbortSignal.timeout(this.options.attemptTimeoutMs),
    ]);
    let results: DeliveryResult[];
    let rateLimited: RetryableError | undefined;
    // Tracing: the call runs inside its span, so the target calls it makes are the span's children.
    const traced = startDeliverySpan(
      this.name,
      connector.name,
      toDeliver.map((i) => i.leased),
    );
    let thrown: unknown;
    try {
      paced.called = true;
      const returned = await context.with(traced.context, () =>
        connector.deliver(
          toDeliver.map((i) => i.item as never),
          {
            config: this.options.config,
            state: this.state,
            logger: this.log,
            health: this.options.health,
            signal,
            lookupContact: source?.lookup,
            pace: () => this.nextSlot(paced.slots, signal),
          },
        ),
      );
      results = settleBatch(toDeliver.length, { results: returned });
    } catch (error) {
      if (this.abortAll.signal.aborted) {
        endDeliverySpan(traced.span, { results: undefined });
        return undefined;
      }
      thrown = error;
      if (error instanceof RetryableError && error.rateLimited) rateLimited = error;
      const cause = signal.aborted
        ? new RetryableError(`attempt timed out after ${this.options.attemptTimeoutMs} ms`)
        : error;
      results = settleBatch(toDeliver.length, { error: cause });
    }
    endDeliverySpan(traced.span, {
      results,
      error: thrown,
      timedOut: thrown !== undefined && signal.aborted,
      throttled: rateLimited !== undefined,
    });
    const durationMs = Date.now() - startedAt.getTime();
    if (rateLimited) this.pacer.penalize(rateLimited.delayMs);
    else if (results.some((r) => r.status !== "retry")) this.pacer.reward();
    metrics.batchSize.observe({ connector: this.name }, toDeliver.length);
    metrics.attemptSeconds.observe({ connector: this.name }, durationMs / 1000);
    return { results, throttled: rateLimited !== undefined, startedAt, durationMs };
  }

  /** Each item's result as a store update: final, or retried on the policy's schedule until it gives up. */
  private updatesFor(toDeliver: Entry[], call: Call): DeliveryUpdate[] {
    const { policy, metrics } = this.options;
    const { startedAt, durationMs } = call;
    return toDeliver.map((entry, index): DeliveryUpdate => {
      const result = call.results[index] ?? { status: "retry", reason: "no result" };
      // Being throttled is not failing: a rate-limited call does not use up maxAttempts (maxAgeHours
      // still bounds it), or a daily quota could kill deliveries that only had to wait.
      const throttled = call.throttled && result.status === "retry";
      const attempts = entry.leased.attempts + (throttled ? 0 : 1);
      const reason = result.status === "delivered" ? undefined : result.reason;
      const attempt: AttemptRecord = {
        startedAt,
        durationMs,
        outcome: result.status,
        error: reason,
        targetStatus: result.targetStatus,
        consent: result.status === "delivered" ? result.consent : undefined,
      };
      metrics.attempts.inc({ connector: this.name, outcome: result.status });
      if (result.status !== "retry") {
        const event = entry.item.event;
        // A re-sent newer event changes nothing in what was applied last.
        const consent =
          this.convergent && result.status === "delivered" && isPreferenceEvent(event) && !entry.reasserted
            ? {
                contactId: event.contactId,
                channel: event.channel,
                orderKey: orderKey(event, entry.item.receivedAt),
              }
            : undefined;
        return {
          deliveryId: entry.leased.deliveryId,
          status: result.status,
          error: reason,
          attempt,
          consent,
        };
      }
      const nextAttemptAt = new Date(Date.now() + nextDelayMs(policy, Math.max(1, attempts), result.delayMs));
      const giveUp = giveUpReason(policy, attempts, entry.leased.queuedAt, nextAttemptAt);
      if (giveUp) {
        // The attempt that used up the policy is the one that killed the delivery: it says so.
        const error = `${giveUp}: ${result.reason}`;
        return {
          deliveryId: entry.leased.deliveryId,
          status: "dead",
          error,
          attempt: { ...attempt, outcome: "dead", error },
        };
      }
      return {
        deliveryId: entry.leased.deliveryId,
        status: "retrying",
        error: result.reason,
        nextAttemptAt,
        attempt,
        countsAsAttempt: !throttled,
      };
    });
  }

  /** Commits the batch's updates (fenced by this worker's lease), with metrics and one log line. */
  private async record(updates: DeliveryUpdate[]): Promise<void> {
    for (const u of updates) this.options.metrics.outcomes.inc({ connector: this.name, status: u.status });
    await this.options.store.complete(this.owner, updates);
    const counts = Object.groupBy(updates, (u) => u.status);
    this.log.info(
      Object.fromEntries(Object.entries(counts).map(([status, list]) => [status, list?.length ?? 0])),
      "batch recorded",
    );
  }
}
