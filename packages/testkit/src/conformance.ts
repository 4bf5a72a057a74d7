import {
  batchSizeOf,
  type Connector,
  type ContactLookup,
  type DeliveryItem,
  type DeliveryResult,
  type KnownEventType,
  parseEngageEvent,
  RetryableError,
  settleBatch,
} from "@engage-bridge/core";
import { afterEach, describe, expect, it } from "vitest";
import { sampleEvent } from "./samples.ts";

/**
 * The shared conformance suite every connector passes, like Segment's destination tests: it drives
 * the connector's own `init` and `deliver` against its fake target, and checks what the gateway
 * relies on, whatever the target:
 *
 * - one result per item, in order, for a batch of the size the gateway would send;
 * - a 429 with `Retry-After` → a rate-limited retry, no earlier than the target asked;
 * - a 5xx → every item retried;
 * - a 401 → every item dead, and the connector reports itself unhealthy;
 * - an aborted attempt (timeout, shutdown) → retried, never reported delivered;
 * - where the target lets a connector check what it holds (`ambiguous` below): a change applied whose
 *   answer was lost (the connection dropped) → after the gateway's retries, every item's effect is
 *   there exactly once.
 *
 * A connector's own tests keep only what is specific to its target. Use it from a `*.test.ts`:
 *
 * ```ts
 * describeConnector(myConnector, { target: async () => adapt(await startMyFake()) });
 * ```
 */

/** A fault the target's fake can play, in the vendor's own format (each fake knows its answers). */
export type ConformanceFault =
  | { kind: "rate-limited"; retryAfterSeconds: number }
  | { kind: "server-error" }
  | { kind: "unauthorized" };

export interface ConformanceTarget {
  /** The connector's config block (input form) pointing at this target. */
  config: unknown;
  /** The next `times` requests that would change the target get `fault` instead. */
  fail(fault: ConformanceFault, times: number): void;
  /**
   * Given for a target a connector can read back (e.g. a sheet's event-id column), not for one whose
   * writes are idempotent by nature (setting a status) or that only the receiver can deduplicate (a
   * webhook, by its id): then the case is skipped, saying so.
   */
  ambiguous?: {
    /** The next `times` changes are applied, then the connection is destroyed without an answer. */
    dropAfterApply(times: number): void;
    /** How many times the target holds each item's effect, in the items' order. */
    effects(items: DeliveryItem[]): Promise<number[]>;
  };
  close(): Promise<void>;
}

// biome-ignore lint/suspicious/noExplicitAny: the suite takes connectors of every config and state type
type AnyConnector = Connector<any, KnownEventType, any>;

export interface ConformanceOptions {
  /** Starts the connector's fake target, fresh for each case. */
  target(): Promise<ConformanceTarget>;
  /**
   * `count` items the connector would deliver (not skip) to a fresh target. Default: the sample event
   * of each type the connector handles, in turn, with a new id each.
   */
  items?(count: number): DeliveryItem[];
  /** The Engage API lookup the items need (e.g. a fake Engage API knowing their contacts). */
  lookupContact?: ContactLookup;
  /** Largest batch the suite sends (a connector with a batch size of 1000 need not be tried at 1000). */
  maxItems?: number;
}

interface Run {
  results: DeliveryResult[];
  thrown: unknown;
  unhealthy: string[];
}

const RETRY_AFTER_SECONDS = 7;
/** Per case: a connector may wait out short pauses of its own (e.g. before re-reading a target). */
const CASE_TIMEOUT_MS = 30_000;

function defaultItems(connector: AnyConnector, count: number): DeliveryItem[] {
  return Array.from({ length: count }, (_, i) => {
    const type = connector.handles[i % connector.handles.length] as KnownEventType;
    const body = sampleEvent(type, { id: `conformance-${i}-${Date.now()}` });
    return {
      deliveryId: `delivery-${i}`,
      event: parseEngageEvent(body, { messageId: `msg-${i}` }),
      attempt: 1,
      receivedAt: new Date(),
    };
  });
}

export function describeConnector(connector: AnyConnector, options: ConformanceOptions): void {
  const targets: ConformanceTarget[] = [];
  afterEach(async () => {
    for (const t of targets.splice(0)) await t.close();
  });

  /** A fresh target and the connector's `init` against it, as the gateway starts an instance. */
  async function start() {
    const target = await options.target();
    targets.push(target);
    const config = connector.configSchema.parse(target.config);
    const unhealthy: string[] = [];
    const logger = { debug() {}, info() {}, warn() {}, error() {} };
    const health = { unhealthy: (reason: string) => unhealthy.push(reason), healthy() {} };
    const base = { logger, health, lookupContact: options.lookupContact, pace: async () => {} };
    const state = await connector.init?.(config, { ...base, signal: AbortSignal.timeout(30_000) });
    /** One `deliver` of `items`, settled as the gateway settles it. */
    async function deliver(items: DeliveryItem[], signal = AbortSignal.timeout(30_000)) {
      let results: DeliveryResult[];
      let thrown: unknown;
      try {
        const returned = await connector.deliver(items as never, { ...base, config, state, signal });
        results = settleBatch(items.length, { results: returned });
      } catch (error) {
        thrown = error;
        results = settleBatch(items.length, { error });
      }
      return { results, thrown };
    }
    const itemsOf = (count: number) =>
      options.items ? options.items(count) : defaultItems(connector, count);
    const batchSize = Math.min(batchSizeOf(connector, config), options.maxItems ?? 5);
    return { target, unhealthy, deliver, itemsOf, batchSize };
  }

  /** Runs `init` then one `deliver` of `count` items (or the gateway's batch size). */
  async function run(
    prepare: (target: ConformanceTarget) => void = () => {},
    setup: { count?: number; signal?: AbortSignal } = {},
  ): Promise<Run & { count: number }> {
    const { target, unhealthy, deliver, itemsOf, batchSize } = await start();
    prepare(target);
    const items = itemsOf(setup.count ?? batchSize);
    const { results, thrown } = await deliver(items, setup.signal);
    return { results, thrown, unhealthy, count: items.length };
  }

  describe(`${connector.name}: connector conformance`, () => {
    it(
      "returns one result per item, in order, for a batch of the size the gateway sends",
      async () => {
        const { results, thrown, count } = await run();
        expect(thrown).toBeUndefined();
        expect(results).toHaveLength(count);
        for (const result of results) expect(["delivered", "skipped"]).toContain(result.status);
      },
      CASE_TIMEOUT_MS,
    );

    it(
      "answers a 429 with Retry-After with a rate-limited retry, no earlier than asked",
      async () => {
        const { results, thrown } = await run((t) =>
          t.fail({ kind: "rate-limited", retryAfterSeconds: RETRY_AFTER_SECONDS }, 1_000),
        );
        for (const result of results) {
          expect(result.status).toBe("retry");
          expect((result as { delayMs?: number }).delayMs ?? 0).toBeGreaterThanOrEqual(
            RETRY_AFTER_SECONDS * 1000,
          );
        }
        // The gateway slows the connector only for a rate-limited error (not for per-item results).
        expect(thrown).toBeInstanceOf(RetryableError);
        expect((thrown as RetryableError).rateLimited).toBe(true);
      },
      CASE_TIMEOUT_MS,
    );

    it(
      "retries every item after a 5xx",
      async () => {
        const { results } = await run((t) => t.fail({ kind: "server-error" }, 1_000));
        for (const result of results) expect(result.status).toBe("retry");
      },
      CASE_TIMEOUT_MS,
    );

    it(
      "ends every item dead after a 401 and reports the connector unhealthy",
      async () => {
        const { results, unhealthy } = await run((t) => t.fail({ kind: "unauthorized" }, 1_000));
        for (const result of results) expect(result.status).toBe("dead");
        expect(unhealthy.length).toBeGreaterThan(0);
      },
      CASE_TIMEOUT_MS,
    );

    it(
      "never reports an aborted attempt delivered (timeout or shutdown): it is retried",
      async () => {
        const { results } = await run(() => {}, {
          signal: AbortSignal.abort(new Error("attempt timed out")),
        });
        for (const result of results) expect(result.status).toBe("retry");
      },
      CASE_TIMEOUT_MS,
    );

    it(
      "leaves each item's effect exactly once after a change applied whose answer was lost",
      async (context) => {
        const { target, deliver, itemsOf, batchSize } = await start();
        const check = target.ambiguous;
        if (!check) return context.skip("the target offers no read-back (ConformanceTarget.ambiguous)");
        let pending = itemsOf(batchSize);
        const all = pending;
        check.dropAfterApply(1);
        // The gateway retries what is not final, flagged as possibly sent already; a connector
        // that reads back must not write it again.
        for (let attempt = 1; pending.length > 0 && attempt <= 4; attempt++) {
          const { results } = await deliver(pending);
          for (const result of results) expect(["delivered", "skipped", "retry"]).toContain(result.status);
          pending = pending
            .filter((_, i) => results[i]?.status === "retry")
            .map((item) => ({ ...item, attempt: attempt + 1, maybeSentBefore: true }));
        }
        expect(pending).toEqual([]);
        expect(await check.effects(all)).toEqual(all.map(() => 1));
      },
      CASE_TIMEOUT_MS,
    );
  });
}
