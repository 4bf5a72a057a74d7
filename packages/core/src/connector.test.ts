import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  batchSizeOf,
  type DeliveryContext,
  dead,
  defineConnector,
  delivered,
  emailPreference,
  PermanentError,
  RetryableError,
  retry,
  settleBatch,
  skipped,
} from "./connector.ts";
import { type PreferenceEvent, parseEngageEvent } from "./events.ts";

const logger = { debug() {}, info() {}, warn() {}, error() {} };

const example = defineConnector({
  name: "pointsLog",
  configSchema: z.object({ minimum: z.number().default(0) }),
  handles: ["loyalty.addPoints"],
  maxBatchSize: 50,
  rateLimit: { requests: 10, perSeconds: 1 },
  async deliver(items, ctx) {
    return items.map((item) =>
      item.event.data.amount < ctx.config.minimum ? skipped("below minimum") : delivered(),
    );
  },
});

describe("defineConnector", () => {
  it("fills defaults and keeps the declared limits", () => {
    expect(example.maxBatchSize).toBe(50);
    expect(example.concurrency).toBe(1);
    expect(example.rateLimit).toEqual({ requests: 10, perSeconds: 1 });
    expect(Object.isFrozen(example)).toBe(true);
  });

  it("delivers a typed batch with one result per item", async () => {
    const event = parseEngageEvent(
      JSON.stringify({ id: "e1", eventType: "loyalty.addPoints", payload: { contactId: "c", amount: 3 } }),
    );
    if (event.type !== "loyalty.addPoints") throw new Error("wrong type");
    const ctx: DeliveryContext<{ minimum: number }> = {
      config: example.configSchema.parse({ minimum: 5 }),
      logger,
      health: { healthy() {}, unhealthy() {} },
      signal: new AbortController().signal,
      lookupContact: undefined,
    };
    const item = { deliveryId: "d1", event, attempt: 1, receivedAt: new Date() };
    expect(await example.deliver([item], ctx)).toEqual([{ status: "skipped", reason: "below minimum" }]);
  });

  it.each([
    ["a bad name", { name: "Bad Name" }],
    ["no handled types", { handles: [] }],
    ["a zero batch size", { maxBatchSize: 0 }],
    ["a fractional concurrency", { concurrency: 1.5 }],
    ["a bad rate limit", { rateLimit: { requests: 0, perSeconds: 1 } }],
    ["a batchSizeFor that is no function", { batchSizeFor: 5 }],
  ])("refuses %s", (_, override) => {
    const base = {
      name: "ok",
      configSchema: z.object({}),
      handles: ["loyalty.addPoints"] as const,
      deliver: async () => [],
    };
    expect(() => defineConnector({ ...base, ...override } as never)).toThrow(TypeError);
  });
});

describe("batchSizeOf", () => {
  const perConfig = defineConnector({
    name: "perConfig",
    configSchema: z.object({ size: z.number() }),
    handles: ["loyalty.addPoints"],
    maxBatchSize: 100,
    batchSizeFor: (config) => config.size,
    deliver: async (items) => items.map(() => delivered()),
  });

  it("uses batchSizeFor within 1..maxBatchSize, and maxBatchSize without it", () => {
    expect(batchSizeOf(perConfig, { size: 1 })).toBe(1);
    expect(batchSizeOf(perConfig, { size: 40.7 })).toBe(40);
    expect(batchSizeOf(perConfig, { size: 500 })).toBe(100);
    expect(batchSizeOf(perConfig, { size: 0 })).toBe(1);
    expect(batchSizeOf(perConfig, { size: Number.NaN })).toBe(100);
    expect(batchSizeOf(example, { minimum: 0 })).toBe(50);
  });
});

describe("settleBatch", () => {
  it("passes valid results through", () => {
    const results = [delivered(), skipped("s"), retry("r", 500), dead("d")];
    expect(settleBatch(4, { results })).toEqual(results);
  });

  it("turns a wrong count into retries, never into delivered", () => {
    expect(settleBatch(2, { results: [delivered()] })).toEqual([
      { status: "retry", reason: "connector returned 1 results for 2 items" },
      { status: "retry", reason: "connector returned 1 results for 2 items" },
    ]);
  });

  it("maps typed whole-batch errors", () => {
    expect(settleBatch(2, { error: new RetryableError("429", { delayMs: 10_000 }) })).toEqual([
      { status: "retry", reason: "429", delayMs: 10_000 },
      { status: "retry", reason: "429", delayMs: 10_000 },
    ]);
    expect(settleBatch(1, { error: new PermanentError("bad token") })).toEqual([
      { status: "dead", reason: "bad token" },
    ]);
    expect(settleBatch(1, { error: new TypeError("bug") })).toEqual([{ status: "retry", reason: "bug" }]);
  });

  it("treats junk results as retries", () => {
    expect(settleBatch(2, { results: [null, { status: "done" }] as never })).toEqual([
      { status: "retry", reason: "connector returned an invalid result" },
      { status: "retry", reason: "connector returned an invalid result" },
    ]);
  });
});

describe("errors across copies of this package", () => {
  // What a plugin's own copy of @engage-bridge/core throws: another class with the same brand.
  const BRAND = Symbol.for("engage-bridge.error");
  class OtherCopyPermanentError extends Error {
    constructor(message: string) {
      super(message);
      Object.defineProperty(this, BRAND, { value: "permanent" });
    }
  }
  class OtherCopyRetryableError extends Error {
    readonly delayMs = 2_000;
    readonly rateLimited = true;
    constructor(message: string) {
      super(message);
      Object.defineProperty(this, BRAND, { value: "retryable" });
    }
  }

  it("recognises another copy's errors by their brand, with instanceof", () => {
    expect(new OtherCopyPermanentError("401") instanceof PermanentError).toBe(true);
    expect(new OtherCopyPermanentError("401") instanceof RetryableError).toBe(false);
    expect(new OtherCopyRetryableError("429") instanceof RetryableError).toBe(true);
    expect(new Error("plain") instanceof PermanentError).toBe(false);
    expect((null as unknown) instanceof PermanentError).toBe(false);
    expect({ message: "shape alone is not enough" } instanceof RetryableError).toBe(false);
  });

  it("settles a batch by the brand: another copy's PermanentError is dead, its RetryableError keeps its delay", () => {
    expect(settleBatch(2, { error: new OtherCopyPermanentError("token revoked") })).toEqual([
      dead("token revoked"),
      dead("token revoked"),
    ]);
    expect(settleBatch(1, { error: new OtherCopyRetryableError("slow down") })).toEqual([
      retry("slow down", 2_000),
    ]);
  });

  it("keeps ordinary instanceof for subclasses", () => {
    class QuotaError extends RetryableError {}
    expect(new QuotaError("quota") instanceof RetryableError).toBe(true);
    expect(new QuotaError("quota") instanceof QuotaError).toBe(true);
    expect(new RetryableError("plain") instanceof QuotaError).toBe(false);
    expect(new RetryableError("x").name).toBe("RetryableError");
  });
});

describe("emailPreference: one rule for targets that know people by email", () => {
  const event = parseEngageEvent(
    JSON.stringify({
      id: "e-1",
      eventType: "contact.acceptsEmail.changed",
      payload: { contactId: "c-1", value: false },
    }),
  ) as PreferenceEvent;
  const item = { deliveryId: "d", event, attempt: 1, receivedAt: new Date() };
  const signal = new AbortController().signal;
  const contact = (email: string | undefined, acceptsEmail: boolean | undefined) => ({
    id: "c-1",
    email,
    mobilePhone: undefined,
    preferences: { acceptsEmail, acceptsSms: undefined, acceptsPostal: undefined },
    raw: {},
  });

  it("applies Engage's current value to the contact's address", async () => {
    const decision = await emailPreference(item, {
      signal,
      lookupContact: async () => contact(" a@example.com ", true),
    });
    expect(decision).toMatchObject({ kind: "apply", email: "a@example.com", value: true });
  });

  it("skips what has no address to act on, and retries a failed lookup", async () => {
    expect(await emailPreference(item, { signal, lookupContact: undefined })).toMatchObject({
      result: { status: "skipped" },
    });
    expect(await emailPreference(item, { signal, lookupContact: async () => undefined })).toMatchObject({
      result: { status: "skipped", reason: "no email address: Engage does not know the contact" },
    });
    expect(
      await emailPreference(item, { signal, lookupContact: async () => contact(undefined, true) }),
    ).toMatchObject({ result: { status: "skipped" } });
    const failing = async () => {
      throw Object.assign(new Error("Engage answered 429"), { retryAfterMs: 2000 });
    };
    expect(await emailPreference(item, { signal, lookupContact: failing })).toEqual({
      kind: "result",
      result: retry("contact lookup failed: Engage answered 429", 2000),
    });
  });

  it("ends a change with no value anywhere dead: a consent change that cannot be applied is visible", async () => {
    const noValue = { ...item, event: { ...event, data: { ...event.data, value: undefined } } };
    expect(
      await emailPreference(noValue as never, {
        signal,
        lookupContact: async () => contact("a@example.com", undefined),
      }),
    ).toMatchObject({ result: { status: "dead" } });
  });
});
