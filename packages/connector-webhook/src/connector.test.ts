import { readFileSync } from "node:fs";
import {
  type ConnectorHealth,
  type DeliveryItem,
  type DeliveryResult,
  type KnownEventType,
  PermanentError,
  parseEngageEvent,
  RetryableError,
  settleBatch,
  signWebhook,
} from "@engage-bridge/core";
import {
  type FakeWebhookReceiver,
  generateWebhookSecret,
  SAMPLE_PAYLOAD_KEY,
  SAMPLES_DIR,
  sampleEvent,
  startFakeWebhookReceiver,
} from "@engage-bridge/testkit";
import { Webhook as StandardWebhook } from "standardwebhooks";
import { Webhook as SvixWebhook } from "svix";
import { afterEach, describe, expect, it } from "vitest";
import { type WebhookConfigInput, webhookConfigSchema } from "./config.ts";
import {
  batchIdFor,
  type ForwardedEvent,
  USER_AGENT,
  type WebhookState,
  webhook,
  webhookIdFor,
} from "./connector.ts";
import { VERSION } from "./version.ts";

/**
 * The connector's `init` and `deliver` called the way the gateway calls them (init once per
 * configured instance, its state passed to every deliver as `ctx.state`), against the fake
 * Standard Webhooks receiver of @engage-bridge/testkit, which verifies every request with `svix`.
 */

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function receiver(options: Parameters<typeof startFakeWebhookReceiver>[0] = {}) {
  const r = await startFakeWebhookReceiver(options);
  cleanups.push(() => r.close());
  return r;
}

function healthProbe() {
  const reports: string[] = [];
  const health: ConnectorHealth = {
    unhealthy: (reason) => reports.push(`unhealthy: ${reason}`),
    healthy: () => reports.push("healthy"),
  };
  return { reports, health };
}

const logger = { debug() {}, info() {}, warn() {}, error() {} };

let counter = 0;
function item(
  type: KnownEventType = "loyalty.addPoints",
  overrides: Parameters<typeof sampleEvent>[1] = {},
): DeliveryItem {
  counter += 1;
  const event = parseEngageEvent(sampleEvent(type, overrides), { messageId: `msg-${counter}` });
  return {
    deliveryId: `d-${counter}`,
    event,
    attempt: 1,
    receivedAt: new Date(Date.UTC(2026, 10, 29, 12, 0, counter)),
  };
}

interface Instance {
  state: WebhookState;
  deliver(
    items: readonly DeliveryItem[],
    options?: { signal?: AbortSignal; pace?: () => Promise<void> },
  ): Promise<readonly DeliveryResult[]>;
  /** `deliver` settled as the gateway does (a thrown error → one result per item). */
  settle(items: readonly DeliveryItem[]): Promise<{ results: DeliveryResult[]; thrown: unknown }>;
  reports: string[];
}

async function instance(r: FakeWebhookReceiver, block: Partial<WebhookConfigInput> = {}): Promise<Instance> {
  const config = webhookConfigSchema.parse({ url: r.url, secret: r.secret, ...block });
  const { reports, health } = healthProbe();
  const base = { logger, health, lookupContact: undefined };
  const state = await webhook.init?.(config, { ...base, signal: AbortSignal.timeout(5_000) });
  if (!state) throw new Error("init returned no state");
  const deliver: Instance["deliver"] = (items, options = {}) =>
    webhook.deliver(items as never, {
      ...base,
      config,
      state,
      signal: options.signal ?? AbortSignal.timeout(10_000),
      ...(options.pace ? { pace: options.pace } : {}),
    });
  return {
    state,
    deliver,
    reports,
    async settle(items) {
      try {
        return { results: settleBatch(items.length, { results: await deliver(items) }), thrown: undefined };
      } catch (thrown) {
        return { results: settleBatch(items.length, { error: thrown }), thrown };
      }
    },
  };
}

async function thrownBy(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error("expected a rejection");
    },
    (error: unknown) => error,
  );
}

describe("webhook connector: requests", () => {
  it("single mode: one POST per event, signed per Standard Webhooks, verifiable with svix, standardwebhooks and core", async () => {
    const r = await receiver();
    const wh = await instance(r);
    const one = item("contact.acceptsEmail.changed", { contactId: "c-1", payload: { value: false } });
    const before = Math.floor(Date.now() / 1000);
    expect(await wh.deliver([one])).toEqual([{ status: "delivered" }]);
    expect(r.received).toHaveLength(1);
    const [got] = r.received;
    if (!got) throw new Error("nothing received");
    expect(got).toMatchObject({ id: one.event.id, verified: true, status: 204 });
    expect(got.timestamp).toBeGreaterThanOrEqual(before);
    expect(got.timestamp).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
    expect(got.headers).toMatchObject({
      "content-type": "application/json",
      "user-agent": `engage-bridge-webhook/${VERSION}`,
      "webhook-id": one.event.id,
    });
    // The receiver's own libraries accept it as sent (svix takes the webhook-* names too).
    const headers = {
      "webhook-id": got.headers["webhook-id"] ?? "",
      "webhook-timestamp": got.headers["webhook-timestamp"] ?? "",
      "webhook-signature": got.headers["webhook-signature"] ?? "",
    };
    expect(() => new SvixWebhook(r.secret).verify(got.raw, headers)).not.toThrow();
    expect(new StandardWebhook(r.secret).verify(got.raw, headers)).toEqual(JSON.parse(got.raw));
    expect(headers["webhook-signature"]).toBe(
      signWebhook(r.secret, one.event.id, got.timestamp ?? 0, got.raw),
    );
    expect(() => new SvixWebhook(generateWebhookSecret()).verify(got.raw, headers)).toThrow();

    const expected: ForwardedEvent = {
      id: one.event.id,
      type: "contact.acceptsEmail.changed",
      tenant: "acme",
      contactId: "c-1",
      encrypted: false,
      payload: { contactId: "c-1", value: false },
      receivedAt: one.receivedAt.toISOString(),
    };
    expect(got.body).toEqual(expected);
    expect(wh.reports).toEqual(["healthy"]);
  });

  it("sends the payload after decryption, saying it arrived encrypted; an unset tenant is null", async () => {
    const r = await receiver();
    const wh = await instance(r);
    const body = readFileSync(`${SAMPLES_DIR}encrypted.loyalty.addPoints.json`, "utf8");
    const event = parseEngageEvent(body, { messageId: "msg-enc", payloadKey: SAMPLE_PAYLOAD_KEY });
    const envelope = JSON.parse(body) as { tenant?: string };
    const encrypted: DeliveryItem = { deliveryId: "d-enc", event, attempt: 1, receivedAt: new Date() };
    expect(await wh.deliver([encrypted])).toEqual([{ status: "delivered" }]);
    const got = r.received[0]?.body as ForwardedEvent;
    expect(got.encrypted).toBe(true);
    expect(got.payload).toEqual(event.payload);
    expect(typeof got.payload).toBe("object");
    expect(got.tenant).toBe(envelope.tenant ?? null);

    const noTenant = item("point.balance.updated");
    (noTenant.event as { tenant: string | undefined }).tenant = undefined;
    await wh.deliver([noTenant]);
    expect(r.received[1]?.body).toMatchObject({ tenant: null });
  });

  it("the webhook-id is the event id on every retry; an id that cannot be one becomes a stable evt_ hash", async () => {
    const r = await receiver();
    const wh = await instance(r);
    const one = item();
    r.failNext(503);
    expect((await wh.settle([one])).results[0]?.status).toBe("retry");
    expect(await wh.deliver([one])).toEqual([{ status: "delivered" }]);
    expect(r.received.map((x) => [x.id, x.status, x.verified])).toEqual([
      [one.event.id, 503, true],
      [one.event.id, 204, true],
    ]);

    expect(webhookIdFor("a.b")).toMatch(/^evt_[0-9a-f]{32}$/);
    expect(webhookIdFor("a.b")).toBe(webhookIdFor("a.b"));
    expect(webhookIdFor("has space")).not.toBe(webhookIdFor("a.b"));
    expect(webhookIdFor("x".repeat(201))).toMatch(/^evt_/);
    const dotted = item("loyalty.addPoints", { id: "engage.event.7" });
    await wh.deliver([dotted]);
    const got = r.received.at(-1);
    expect(got).toMatchObject({ id: webhookIdFor("engage.event.7"), verified: true, status: 204 });
    expect(got?.body).toMatchObject({ id: "engage.event.7" });
  });

  it("batch mode: one POST with a JSON array, webhook-id batch_<hash of the deliveries>", async () => {
    const r = await receiver();
    const wh = await instance(r, { batch: true });
    expect(
      webhook.batchSizeFor?.(webhookConfigSchema.parse({ url: r.url, secret: r.secret, batch: true })),
    ).toBe(100);
    expect(webhook.batchSizeFor?.(webhookConfigSchema.parse({ url: r.url, secret: r.secret }))).toBe(1);
    const items = [
      item("contact.acceptsSms.changed", { contactId: "c-1", payload: { value: true } }),
      item("loyalty.addPoints", { contactId: "c-2" }),
      item("reward.voucher.created", { contactId: "c-3", tenant: "brand-b" }),
    ];
    expect(await wh.deliver(items)).toEqual(Array(3).fill({ status: "delivered" }));
    expect(r.received).toHaveLength(1);
    const [got] = r.received;
    expect(got?.verified).toBe(true);
    expect(got?.id).toBe(batchIdFor(items));
    expect(got?.id).toMatch(/^batch_[0-9a-f]{32}$/);
    const bodies = got?.body as ForwardedEvent[];
    expect(bodies.map((b) => [b.id, b.type, b.contactId, b.tenant])).toEqual([
      [items[0]?.event.id, "contact.acceptsSms.changed", "c-1", "acme"],
      [items[1]?.event.id, "loyalty.addPoints", "c-2", items[1]?.event.tenant ?? null],
      [items[2]?.event.id, "reward.voucher.created", "c-3", "brand-b"],
    ]);
    expect(bodies[0]?.payload).toEqual(items[0]?.event.payload);
    // The same deliveries keep the id; another batch gets another.
    expect(batchIdFor([...items])).toBe(got?.id);
    expect(batchIdFor(items.slice(1))).not.toBe(got?.id);
    expect(batchIdFor([items[1], items[0]] as DeliveryItem[])).not.toBe(batchIdFor(items.slice(0, 2)));
  });

  it("sends the configured headers (values never in reasons), and URL credentials as Basic auth", async () => {
    const r = await receiver();
    const wh = await instance(r, {
      headers: { "X-Api-Key": "erp-key-123456", "User-Agent": "acme-forwarder/2" },
    });
    await wh.deliver([item()]);
    expect(r.received[0]?.headers).toMatchObject({
      "x-api-key": "erp-key-123456",
      "user-agent": "acme-forwarder/2",
    });
    expect(wh.state.headers["x-api-key"]).toBe("erp-key-123456");

    // A receiver that quotes the key (or an address) back: the reason shows neither.
    r.failNext(400, { body: { error: "key erp-key-123456 not allowed for jane.doe@example.com" } });
    const { thrown } = await wh.settle([item()]);
    expect(thrown).toBeInstanceOf(PermanentError);
    expect((thrown as Error).message).toBe(
      'webhook endpoint answered 400: {"error":"key **** not allowed for <email>"}',
    );

    const withUser = await instance(r, { url: r.url.replace("http://", "http://ops:p%40ss%20word@") });
    expect(withUser.state.endpoint).toBe(r.url);
    await withUser.deliver([item()]);
    expect(r.received.at(-1)?.headers.authorization).toBe(
      `Basic ${Buffer.from("ops:p@ss word").toString("base64")}`,
    );
    expect(r.received.at(-1)?.verified).toBe(true);
  });

  it("two instances (two inits) keep separate state: each signs with its own secret for its own receiver", async () => {
    const a = await receiver();
    const b = await receiver();
    const first = await instance(a, { headers: { "x-tenant": "a" } });
    const second = await instance(b, { headers: { "x-tenant": "b" }, batch: true });
    const again = await instance(a, { headers: { "x-tenant": "a" } });
    expect(first.state).not.toBe(again.state);
    expect(first.state).toEqual(again.state);
    expect(first.state.secret).not.toBe(second.state.secret);
    expect(first.state.batch).toBe(false);
    expect(second.state.batch).toBe(true);

    await first.deliver([item()]);
    await second.deliver([item(), item()]);
    expect(a.received.map((x) => [x.verified, x.headers["x-tenant"]])).toEqual([[true, "a"]]);
    expect(b.received.map((x) => [x.verified, x.headers["x-tenant"], Array.isArray(x.body)])).toEqual([
      [true, "b", true],
    ]);
    // The other receiver's secret does not verify them.
    const got = b.received[0];
    expect(() =>
      new SvixWebhook(a.secret).verify(got?.raw ?? "", {
        "webhook-id": got?.id ?? "",
        "webhook-timestamp": String(got?.timestamp),
        "webhook-signature": got?.headers["webhook-signature"] ?? "",
      }),
    ).toThrow();
  });

  it("the user-agent carries the package's version", () => {
    const manifest = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
      version: string;
    };
    expect(VERSION).toBe(manifest.version);
    expect(USER_AGENT).toBe(`engage-bridge-webhook/${manifest.version}`);
  });
});

describe("webhook connector: answers (core's HTTP vocabulary)", () => {
  it.each([false, true])(
    "429 with Retry-After → rate-limited RetryableError no earlier than asked (batch %s)",
    async (batch) => {
      const r = await receiver();
      const wh = await instance(r, { batch });
      r.failNext(429, { headers: { "retry-after": "7" }, body: "slow down" });
      const items = batch ? [item(), item()] : [item()];
      const error = await thrownBy(wh.deliver(items));
      expect(error).toBeInstanceOf(RetryableError);
      expect(error).toMatchObject({ rateLimited: true, delayMs: 7_000, targetStatus: 429 });
      expect((error as Error).message).toBe("webhook endpoint answered 429 (rate limited): slow down");
      // Every item's result carries the status the endpoint answered (the console shows it).
      expect(settleBatch(items.length, { error })).toEqual(
        items.map(() => ({
          status: "retry",
          reason: (error as Error).message,
          delayMs: 7_000,
          targetStatus: 429,
        })),
      );
      expect(wh.reports).toEqual([]);
    },
  );

  it.each([503, 502, 504, 500, 408, 425])(
    "%i → RetryableError (not rate-limited), Retry-After honoured",
    async (status) => {
      const r = await receiver();
      const wh = await instance(r);
      r.failNext(status, { headers: { "retry-after": "2" }, body: { error: "busy" } });
      const error = await thrownBy(wh.deliver([item()]));
      expect(error).toBeInstanceOf(RetryableError);
      expect(error).toMatchObject({ rateLimited: false, delayMs: 2_000 });
      expect((error as Error).message).toBe(`webhook endpoint answered ${status}: {"error":"busy"}`);
      expect(wh.reports).toEqual([]);
    },
  );

  it.each([
    [401, "refused: check the secret and headers the receiver expects"],
    [403, "refused: check the secret and headers the receiver expects"],
    [410, "Gone: the receiver removed this endpoint"],
  ])(
    "%i → PermanentError and the connector unhealthy; a later 2xx makes it healthy",
    async (status, hint) => {
      const r = await receiver();
      for (const batch of [false, true]) {
        const wh = await instance(r, { batch });
        r.failNext(status);
        const error = await thrownBy(wh.deliver([item()]));
        expect(error).toBeInstanceOf(PermanentError);
        const reason = `webhook endpoint answered ${status} (${hint}): {"error":"fault ${status}"}`;
        expect((error as Error).message).toBe(reason);
        expect(wh.reports).toEqual([`unhealthy: ${reason}`]);
        await wh.deliver([item()]);
        expect(wh.reports.at(-1)).toBe("healthy");
      }
    },
  );

  it("a bad signature is the receiver's 401: dead and unhealthy", async () => {
    const r = await receiver();
    const wh = await instance(r, { secret: generateWebhookSecret() });
    const { results, thrown } = await wh.settle([item()]);
    expect(thrown).toBeInstanceOf(PermanentError);
    expect(results[0]).toMatchObject({ status: "dead", reason: expect.stringContaining("401") });
    expect(r.received[0]?.verified).toBe(false);
    expect(wh.reports[0]).toMatch(/^unhealthy: webhook endpoint answered 401/);
  });

  it.each([400, 404, 413, 422])("%i → PermanentError, the connector stays healthy", async (status) => {
    const r = await receiver();
    const wh = await instance(r);
    r.failNext(status, { body: `  nope\n${"x".repeat(500)}` });
    const error = await thrownBy(wh.deliver([item()]));
    expect(error).toBeInstanceOf(PermanentError);
    const message = (error as Error).message;
    expect(message.startsWith(`webhook endpoint answered ${status}: nope xxx`)).toBe(true);
    // At most ~200 characters of the answer.
    expect(message.length).toBeLessThanOrEqual(`webhook endpoint answered ${status}: `.length + 200);
    expect(message.endsWith("…")).toBe(true);
    expect(wh.reports).toEqual([]);
  });

  it("a redirect is not followed: dead, and the other address never sees the request", async () => {
    const r = await receiver();
    const elsewhere = await receiver();
    const wh = await instance(r, { headers: { "x-api-key": "secret-value" } });
    r.failNext(307, { headers: { location: elsewhere.url }, body: "" });
    const error = await thrownBy(wh.deliver([item()]));
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toBe(
      "webhook endpoint answered 307 (redirects are not followed: set url to the final address)",
    );
    expect(elsewhere.received).toHaveLength(0);
  });

  it("a network error → RetryableError naming the cause, without the URL's credentials or query", async () => {
    const r = await receiver();
    const url = `${r.url.replace("http://", "http://ops:hunter2secret@")}?token=abc123`;
    await r.close();
    const wh = await instance(r, { url, headers: { "x-api-key": "erp-key-123456" } });
    const error = await thrownBy(wh.deliver([item()]));
    expect(error).toBeInstanceOf(RetryableError);
    const message = (error as Error).message;
    expect(message).toMatch(/^webhook endpoint unreachable: .*ECONNREFUSED/);
    expect(message).not.toMatch(/hunter2secret|abc123|erp-key-123456|whsec_/);
  });

  it("an abort (shutdown, attempt timeout) throws, before or during the request, and never reports delivered", async () => {
    const r = await receiver({ latencyMs: 2_000 });
    const wh = await instance(r);
    await expect(
      wh.deliver([item()], { signal: AbortSignal.abort(new Error("shutting down")) }),
    ).rejects.toThrow("shutting down");
    const controller = new AbortController();
    const pending = wh.deliver([item()], { signal: controller.signal });
    setTimeout(() => controller.abort(new Error("attempt timed out")), 50);
    await expect(pending).rejects.toThrow("attempt timed out");
    expect(settleBatch(1, { error: new Error("attempt timed out") })[0]?.status).toBe("retry");
  });
});

describe("webhook connector: one result per item, in order", () => {
  it("several items in single mode: one request each, paced; a dead one does not stop the others", async () => {
    const r = await receiver();
    const wh = await instance(r);
    let paced = 0;
    const pace = async () => {
      paced += 1;
    };
    const items = [item(), item(), item(), item()];
    r.failNext(202, { body: "ok" });
    r.failNext(400, { body: "bad" });
    r.failNext(200, { body: "ok" });
    const results = await wh.deliver(items, { pace });
    expect(results).toEqual([
      { status: "delivered" },
      { status: "dead", reason: "webhook endpoint answered 400: bad" },
      { status: "delivered" },
      { status: "delivered" },
    ]);
    expect(paced).toBe(3);
    expect(r.received.map((x) => [x.id, x.verified])).toEqual(items.map((i) => [i.event.id, true]));
  });

  it("the receiver fails midway: what was sent stays delivered, the rest waits (or ends) with that answer", async () => {
    const r = await receiver();
    const wh = await instance(r);
    r.failNext(204, { body: undefined });
    r.failNext(503, { headers: { "retry-after": "4" } });
    const retried = await wh.deliver([item(), item(), item()]);
    expect(retried).toEqual([
      { status: "delivered" },
      { status: "retry", reason: 'webhook endpoint answered 503: {"error":"fault 503"}', delayMs: 4_000 },
      { status: "retry", reason: 'webhook endpoint answered 503: {"error":"fault 503"}', delayMs: 4_000 },
    ]);
    expect(r.received).toHaveLength(2);

    r.failNext(204, { body: undefined });
    r.failNext(429, { headers: { "retry-after": "3" }, body: "" });
    const limited = await wh.deliver([item(), item()]);
    expect(limited).toEqual([
      { status: "delivered" },
      { status: "retry", reason: "webhook endpoint answered 429 (rate limited)", delayMs: 3_000 },
    ]);

    r.failNext(204, { body: undefined });
    r.failNext(410, { body: "" });
    const gone = await wh.deliver([item(), item(), item()]);
    const reason = "webhook endpoint answered 410 (Gone: the receiver removed this endpoint)";
    expect(gone).toEqual([{ status: "delivered" }, { status: "dead", reason }, { status: "dead", reason }]);
    expect(wh.reports).toContain(`unhealthy: ${reason}`);
  });

  it("the first request fails: the whole call throws, so every item gets that result", async () => {
    const r = await receiver();
    const wh = await instance(r);
    r.failNext(503);
    const { results, thrown } = await wh.settle([item(), item(), item()]);
    expect(thrown).toBeInstanceOf(RetryableError);
    expect(results.map((x) => x.status)).toEqual(["retry", "retry", "retry"]);
    expect(r.received).toHaveLength(1);
    expect(await wh.deliver([])).toEqual([]);
  });
});
