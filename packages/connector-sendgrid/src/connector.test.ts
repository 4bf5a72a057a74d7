import {
  type ConnectorHealth,
  type ContactLookup,
  type DeliveryContext,
  type DeliveryItem,
  type DeliveryResult,
  type InitContext,
  type PreferenceEvent,
  parseEngageEvent,
  RetryableError,
  settleBatch,
} from "@engage-bridge/core";
import {
  type FakeSendGrid,
  type FakeSendGridInvalidAddress,
  type FakeSendGridUnknownGroup,
  sampleEvent,
  startFakeSendGrid,
} from "@engage-bridge/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { type SendGridConfig, sendgridConfigSchema } from "./config.ts";
import { createSendGridConnector, type SendGridState, sendgridConnector } from "./connector.ts";

/**
 * The connector's `deliver` and `init` called the way the gateway calls them, against the fake
 * SendGrid through the official SDK: `init` once per configured instance, and what it returned passed
 * to every `deliver` of that instance as `ctx.state`. Contacts come from an in-memory `ContactLookup`
 * (the contract's injection point; the gateway tests use the real Engage client and the fake Engage API).
 */

type EmailEvent = PreferenceEvent<"contact.acceptsEmail.changed">;
interface Contact {
  email?: string;
  acceptsEmail?: boolean;
}

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function fake(options: Parameters<typeof startFakeSendGrid>[0] = {}): Promise<FakeSendGrid> {
  const f = await startFakeSendGrid(options);
  cleanups.push(() => f.close());
  return f;
}

function lookupFrom(contacts: Map<string, Contact>, calls: string[] = []): ContactLookup {
  return async (contactId) => {
    calls.push(contactId);
    const c = contacts.get(contactId);
    if (!c) return undefined;
    return {
      id: contactId,
      email: c.email,
      mobilePhone: undefined,
      preferences: { acceptsEmail: c.acceptsEmail, acceptsSms: undefined, acceptsPostal: undefined },
      raw: {},
    };
  };
}

let counter = 0;
/** An email preference event of `contactId` carrying `value` (null: no value in the payload). */
function item(contactId: string, value: boolean | null = false): DeliveryItem<EmailEvent> {
  const body = sampleEvent("contact.acceptsEmail.changed", { contactId, payload: { value } });
  counter += 1;
  const event = parseEngageEvent(body) as EmailEvent;
  expect(event.data.value).toBe(value ?? undefined);
  return {
    deliveryId: `d-${counter}`,
    event,
    attempt: 1,
    receivedAt: new Date(),
  };
}

function healthProbe() {
  const reports: string[] = [];
  const health: ConnectorHealth = {
    unhealthy: (reason) => reports.push(`unhealthy: ${reason}`),
    healthy: () => reports.push("healthy"),
  };
  return { reports, health };
}

const logs: unknown[] = [];
const logger = {
  debug: (o: unknown) => logs.push(o),
  info: (o: unknown) => logs.push(o),
  warn: (o: unknown) => logs.push(o),
  error: (o: unknown) => logs.push(o),
};

/** What `init` is given (and the config it is called with), plus the health reports made. */
type InitCtx = InitContext<SendGridConfig> & { config: SendGridConfig; reports: string[] };
/** What `deliver` is given: an instance's config and the state its `init` returned. */
type Ctx = DeliveryContext<SendGridConfig, SendGridState> & { reports: string[] };

function context(
  sg: FakeSendGrid,
  contacts: Map<string, Contact> | undefined,
  overrides: Partial<SendGridConfig> = {},
): InitCtx {
  const { reports, health } = healthProbe();
  return {
    config: sendgridConfigSchema.parse({ apiKey: sg.apiKey, baseUrl: sg.url, ...overrides }),
    logger,
    health,
    signal: AbortSignal.timeout(20_000),
    lookupContact: contacts ? lookupFrom(contacts) : undefined,
    reports,
  };
}

/** Calls `init` for `ctx.config`, as the gateway does once per configured instance; returns its state. */
async function init(connector: typeof sendgridConnector, ctx: InitCtx): Promise<SendGridState> {
  if (!connector.init) throw new Error("the sendgrid connector has an init");
  return connector.init(ctx.config, ctx);
}

/** A new instance, as the gateway starts it: `init` called once, its state in the context for `deliver`. */
async function started(
  connector: typeof sendgridConnector,
  sg: FakeSendGrid,
  contacts: Map<string, Contact> | undefined,
  overrides: Partial<SendGridConfig> = {},
): Promise<Ctx> {
  const ctx = context(sg, contacts, overrides);
  return { ...ctx, state: await init(connector, ctx) };
}

/** Calls deliver and turns its answer or exception into results, like the engine does. */
async function deliver(
  connector: typeof sendgridConnector,
  items: DeliveryItem<EmailEvent>[],
  ctx: Ctx,
): Promise<DeliveryResult[]> {
  try {
    return settleBatch(items.length, { results: await connector.deliver(items, ctx) });
  } catch (error) {
    return settleBatch(items.length, { error });
  }
}

const contactsOf = (entries: [string, Contact][]) => new Map(entries);
const optedOut = (n: number, prefix = "c") =>
  contactsOf(
    Array.from({ length: n }, (_, i) => [
      `${prefix}-${i}`,
      { email: `${prefix}${i}@example.com`, acceptsEmail: false },
    ]),
  );

describe("sendgrid connector: deliver", () => {
  it("handles email preference events only, in batches of up to 500", () => {
    expect(sendgridConnector.name).toBe("sendgrid");
    expect(sendgridConnector.handles).toEqual(["contact.acceptsEmail.changed"]);
    expect(sendgridConnector.maxBatchSize).toBe(500);
    expect(sendgridConnector.concurrency).toBe(1);
  });

  it("adds every opted-out address of a batch in one POST", async () => {
    const sg = await fake();
    const contacts = optedOut(300);
    const ctx = await started(sendgridConnector, sg, contacts);
    const items = [...contacts.keys()].map((id) => item(id, false));
    const results = await deliver(sendgridConnector, items, ctx);
    expect(results.every((r) => r.status === "delivered")).toBe(true);
    expect(sg.requests).toHaveLength(1);
    expect(sg.requests[0]).toMatchObject({
      method: "POST",
      path: "/v3/asm/suppressions/global",
      status: 201,
    });
    expect(sg.requests[0]?.emails).toHaveLength(300);
    expect(sg.globalSuppressions).toEqual(new Set([...contacts.values()].map((c) => c.email)));
    expect(ctx.reports.at(-1)).toBe("healthy");
  });

  it("applies Engage's current value, not the payload's; removals are one DELETE each, one after the other", async () => {
    const sg = await fake();
    const contacts = contactsOf([
      ["in-1", { email: "In1@Example.com ", acceptsEmail: true }],
      ["in-2", { email: "in2@example.com", acceptsEmail: true }],
      ["in-3", { email: "in3@example.com", acceptsEmail: true }],
      ["out-1", { email: "out1@example.com", acceptsEmail: false }],
    ]);
    for (const email of ["in1@example.com", "in2@example.com", "in3@example.com", "other@example.com"]) {
      sg.globalSuppressions.add(email);
    }
    // Payload values say the opposite: Engage's current value wins.
    const items = [item("in-1", false), item("in-2", false), item("in-3", false), item("out-1", true)];
    const results = await deliver(sendgridConnector, items, await started(sendgridConnector, sg, contacts));
    expect(results.map((r) => r.status)).toEqual(["delivered", "delivered", "delivered", "delivered"]);
    expect([...sg.globalSuppressions].sort()).toEqual(["other@example.com", "out1@example.com"]);
    expect(sg.requests.map((r) => r.method)).toEqual(["POST", "DELETE", "DELETE", "DELETE"]);
    expect(sg.requests[1]?.emails).toEqual(["in1@example.com"]); // trimmed and lower-cased
    const deletes = sg.requests.slice(1);
    for (let i = 1; i < deletes.length; i++) {
      expect(deletes[i]?.at).toBeGreaterThanOrEqual(deletes[i - 1]?.answeredAt ?? Number.POSITIVE_INFINITY);
    }
  });

  it("asks the gateway's pace before every request after the first, each after the previous answer", async () => {
    const sg = await fake();
    const contacts = optedOut(2);
    for (let i = 0; i < 3; i++) contacts.set(`in-${i}`, { email: `in${i}@example.com`, acceptsEmail: true });
    const ctx = await started(sendgridConnector, sg, contacts);
    const paced: { sent: number; answered: boolean }[] = [];
    ctx.pace = async () => {
      paced.push({ sent: sg.requests.length, answered: sg.requests.every((r) => r.answeredAt > 0) });
    };
    const results = await deliver(
      sendgridConnector,
      [...contacts.keys()].map((id) => item(id)),
      ctx,
    );
    expect(results.every((r) => r.status === "delivered")).toBe(true);
    expect(sg.requests.map((r) => r.method)).toEqual(["POST", "DELETE", "DELETE", "DELETE"]);
    expect(paced).toEqual([
      { sent: 1, answered: true },
      { sent: 2, answered: true },
      { sent: 3, answered: true },
    ]);

    // A pace that rejects (the attempt was aborted while waiting) ends the call.
    const more = await started(sendgridConnector, sg, contacts);
    more.pace = () => Promise.reject(new Error("aborted while pacing"));
    await expect(
      sendgridConnector.deliver(
        [...contacts.keys()].map((id) => item(id)),
        more,
      ),
    ).rejects.toThrow("aborted while pacing");
    expect(sg.requests).toHaveLength(5);
  });

  it("sends one change per address: the later item of a batch wins when two contacts share it", async () => {
    const sg = await fake();
    const contacts = contactsOf([
      ["a", { email: "shared@example.com", acceptsEmail: false }],
      ["b", { email: "SHARED@example.com", acceptsEmail: true }],
      ["c", { email: "dup@example.com", acceptsEmail: false }],
    ]);
    sg.globalSuppressions.add("shared@example.com");
    const items = [item("a"), item("c"), item("b"), item("c")];
    const results = await deliver(sendgridConnector, items, await started(sendgridConnector, sg, contacts));
    expect(results[0]).toEqual({
      status: "skipped",
      reason: "superseded by a later change of the same email address in this batch",
    });
    expect(results.slice(1).map((r) => r.status)).toEqual(["delivered", "delivered", "delivered"]);
    expect([...sg.globalSuppressions]).toEqual(["dup@example.com"]);
    expect(sg.requests.map((r) => `${r.method} ${r.emails.join(",")}`)).toEqual([
      "POST dup@example.com",
      "DELETE shared@example.com",
    ]);
  });

  it("skips, with reasons naming no address or contact, what it cannot map to an address", async () => {
    const sg = await fake();
    const contacts = contactsOf([
      ["no-email", { acceptsEmail: false }],
      ["bad-email", { email: "not-an-address", acceptsEmail: false }],
      ["no-value", { email: "novalue@example.com" }],
    ]);
    const ctx = await started(sendgridConnector, sg, contacts);
    const results = await deliver(
      sendgridConnector,
      [item("no-email"), item("unknown"), item("bad-email"), item("no-value", null)],
      ctx,
    );
    expect(results).toEqual([
      { status: "skipped", reason: "no email address: the contact has none in Engage" },
      { status: "skipped", reason: "no email address: Engage does not know the contact" },
      { status: "dead", reason: "the contact's email address in Engage is not a valid address" },
      {
        status: "dead",
        reason: "no preference value: neither Engage nor the event says what the contact accepts",
      },
    ]);
    expect(sg.requests).toHaveLength(0);

    const noLookup = await deliver(
      sendgridConnector,
      [item("no-email")],
      await started(sendgridConnector, sg, undefined),
    );
    expect(noLookup[0]).toMatchObject({ status: "skipped" });
    expect((noLookup[0] as { reason: string }).reason).toMatch(/configure engageApi on the source/);
  });

  it("retries an item whose lookup failed, and only that one", async () => {
    const sg = await fake();
    const contacts = optedOut(2);
    const ctx = await started(sendgridConnector, sg, contacts);
    const lookup = ctx.lookupContact;
    ctx.lookupContact = async (id, options) => {
      if (id === "c-1")
        throw Object.assign(new Error("contact lookup failed (status 503)"), { retryAfterMs: 2_000 });
      return lookup?.(id, options);
    };
    const results = await deliver(sendgridConnector, [item("c-0"), item("c-1")], ctx);
    expect(results).toEqual([
      { status: "delivered", consent: { value: false, from: "engage-api" } },
      { status: "retry", reason: "contact lookup failed (status 503)", delayMs: 2_000 },
    ]);
    expect([...sg.globalSuppressions]).toEqual(["c0@example.com"]);
  });

  it("splits a POST that SendGrid refuses as a whole, so that one bad address cannot fail the rest", async () => {
    const sg = await fake();
    const contacts = optedOut(8);
    // Passes the connector's loose check; the (fake) SendGrid wants a dotted domain.
    contacts.set("c-5", { email: "user@localhost", acceptsEmail: false });
    const items = [...contacts.keys()].map((id) => item(id));
    const results = await deliver(sendgridConnector, items, await started(sendgridConnector, sg, contacts));
    expect(results[5]).toEqual({
      status: "dead",
      reason: "SendGrid rejected the request (400): <email> is not a valid email address (recipient_emails)",
    });
    expect(results.filter((r) => r.status === "delivered")).toHaveLength(7);
    expect(sg.globalSuppressions.size).toBe(7);
    expect(sg.globalSuppressions.has("user@localhost")).toBe(false);
    // 8 → 4+4 → 2+2 → 1+1: a handful of calls, not one per address.
    expect(sg.requests.length).toBeLessThanOrEqual(7);
  });

  it("splits additions into POSTs of maxAddressesPerRequest", async () => {
    const sg = await fake();
    const connector = createSendGridConnector({ maxAddressesPerRequest: 10 });
    const contacts = optedOut(25);
    const results = await deliver(
      connector,
      [...contacts.keys()].map((id) => item(id)),
      await started(connector, sg, contacts),
    );
    expect(results.every((r) => r.status === "delivered")).toBe(true);
    expect(sg.requests.map((r) => r.emails.length)).toEqual([10, 10, 5]);
  });

  // 401 → every item dead, connector unhealthy: the conformance suite (conformance.test.ts); the
  // 401's reason, without the key: api.test.ts. A 403 (a key without the Suppressions scope) is
  // SendGrid's other refusal, handled the same way.
  it("403: every item dead with the reason, the connector unhealthy; the key never in the reason", async () => {
    const sg = await fake();
    sg.failAlways({ status: 403 });
    const contacts = optedOut(3);
    contacts.set("in", { email: "in@example.com", acceptsEmail: true });
    const ctx = await started(sendgridConnector, sg, contacts);
    const results = await deliver(
      sendgridConnector,
      [...contacts.keys()].map((id) => item(id)),
      ctx,
    );
    expect(results.every((r) => r.status === "dead")).toBe(true);
    const reason = (results[0] as { reason: string }).reason;
    expect(reason).toBe("SendGrid refused the API key (403): access forbidden");
    expect(reason).not.toContain(sg.apiKey);
    expect(ctx.reports.at(-1)).toBe(`unhealthy: ${reason}`);
    // Halted after the first refusal.
    expect(sg.requests).toHaveLength(1);
  });

  it("5xx or network error: retried, nothing else tried in the batch", async () => {
    const sg = await fake();
    sg.failNext(1, { status: 502 });
    const contacts = optedOut(2);
    contacts.set("in", { email: "in@example.com", acceptsEmail: true });
    const items = [...contacts.keys()].map((id) => item(id));
    const ctx = await started(sendgridConnector, sg, contacts);
    const results = await deliver(sendgridConnector, items, ctx);
    expect(results).toEqual(Array(3).fill({ status: "retry", reason: "SendGrid answered 502: bad gateway" }));
    expect(sg.requests).toHaveLength(1);
    // Next attempt (same instance) goes through.
    const next = await deliver(sendgridConnector, items, ctx);
    expect(next.map((r) => r.status)).toEqual(["delivered", "delivered", "delivered"]);
    // A Retry-After on a 5xx: the batch is retried no earlier (not a rate limit: no pause).
    sg.failNext(1, { status: 503, headers: { "Retry-After": "20" } });
    const later = await deliver(sendgridConnector, items, ctx);
    expect(later).toEqual(
      Array(3).fill({
        status: "retry",
        reason: "SendGrid answered 503: service unavailable",
        delayMs: 20_000,
      }),
    );
    expect(ctx.state.pausedUntil).toBe(0);

    const url = sg.url;
    await sg.close();
    const down = await started(sendgridConnector, sg, contacts, { apiKey: "SG.k", baseUrl: url });
    const offline = await deliver(sendgridConnector, items, down);
    expect(offline.every((r) => r.status === "retry" && /SendGrid unreachable/.test(r.reason))).toBe(true);
  });

  it("a 429 before anything went through: the batch is retried no earlier than the reset, and the gateway told to slow down", async () => {
    for (const resetStyle of ["epoch", "seconds"] as const) {
      const sg = await fake();
      sg.failNext(1, { status: 429, resetSeconds: 2, resetStyle });
      const contacts = optedOut(3);
      const connector = createSendGridConnector();
      // One instance: the second call sees the pause the first one noted in its state.
      const ctx = await started(connector, sg, contacts);
      const items = [...contacts.keys()].map((id) => item(id));
      const thrown = await connector.deliver(items, ctx).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(thrown).toBeInstanceOf(RetryableError);
      const error = thrown as RetryableError;
      expect(error.rateLimited).toBe(true);
      const limited = sg.requests[0];
      const resetAt =
        resetStyle === "epoch"
          ? (limited?.rateLimitReset ?? 0) * 1000
          : (limited?.answeredAt ?? 0) + (limited?.rateLimitReset ?? 0) * 1000;
      expect(Date.now() + (error.delayMs ?? 0)).toBeGreaterThanOrEqual(resetAt);
      // Called again before the reset: no request at all.
      await expect(connector.deliver(items, ctx)).rejects.toBeInstanceOf(RetryableError);
      expect(sg.requests).toHaveLength(1);
    }
  });

  it("X-RateLimit-Remaining 0 during removals: the rest waits for the reset, no request sent before it", async () => {
    const sg = await fake({ rateLimit: { limit: 3, windowMs: 1_500 }, resetStyle: "seconds" });
    const contacts = contactsOf(
      Array.from({ length: 5 }, (_, i) => [`in-${i}`, { email: `in${i}@example.com`, acceptsEmail: true }]),
    );
    for (const c of contacts.values()) if (c.email) sg.globalSuppressions.add(c.email);
    const connector = createSendGridConnector();
    const ctx = await started(connector, sg, contacts);
    const items = [...contacts.keys()].map((id) => item(id));
    const first = await deliver(connector, items, ctx);
    expect(first.map((r) => r.status)).toEqual(["delivered", "delivered", "delivered", "retry", "retry"]);
    const waited = first[3] as { reason: string; delayMs: number };
    expect(waited.reason).toBe("SendGrid rate limit reached; continuing after its reset");
    expect(waited.delayMs).toBeGreaterThan(0);
    expect(sg.requests).toHaveLength(3);
    expect(sg.requests[2]?.rateLimitRemaining).toBe(0);

    // The engine would wait delayMs; call again at once (another batch): refused without a request.
    await expect(connector.deliver(items.slice(3), ctx)).rejects.toMatchObject({ rateLimited: true });
    expect(sg.requests).toHaveLength(3);

    // Timers and the wall clock may disagree by a millisecond: wait a little longer than told.
    await new Promise((r) => setTimeout(r, waited.delayMs + 50));
    const second = await deliver(connector, items.slice(3), ctx);
    expect(second.map((r) => r.status)).toEqual(["delivered", "delivered"]);
    expect(sg.globalSuppressions.size).toBe(0);
    const third = sg.requests[2];
    const resetAt = (third?.answeredAt ?? 0) + (third?.rateLimitReset ?? 0) * 1000;
    expect(sg.requests[3]?.at).toBeGreaterThanOrEqual(resetAt);
    expect(sg.requests.slice(3).every((r) => r.status === 204)).toBe(true);
  });

  it("keeps state per instance, not per config: init sends nothing in global mode, and one instance's rate-limit pause does not hold back another", async () => {
    const sg = await fake();
    const contacts = optedOut(2);
    const connector = createSendGridConnector();
    const first = await started(connector, sg, contacts);
    // A second instance of the same type, even with the very same config object: its own state.
    const second = { ...first, state: await init(connector, first) };
    expect(second.state).not.toBe(first.state);
    expect(second.state.api).not.toBe(first.state.api);
    expect(sg.requests).toHaveLength(0);

    sg.failNext(1, { status: 429, resetSeconds: 30 });
    await expect(connector.deliver([item("c-0")], first)).rejects.toMatchObject({ rateLimited: true });
    // The first waits for SendGrid's reset without a request; the second is not held back.
    await expect(connector.deliver([item("c-0")], first)).rejects.toMatchObject({ rateLimited: true });
    expect(sg.requests).toHaveLength(1);
    expect(await deliver(connector, [item("c-1")], second)).toMatchObject([{ status: "delivered" }]);
    expect(sg.requests).toHaveLength(2);
  });

  // The conformance suite aborts before the first request; this aborts one in flight, and checks that
  // the abort itself ends the call (not a SendGrid failure made of it).
  it("stops at once when the gateway aborts the attempt", async () => {
    const sg = await fake({ latencyMs: 1_000 });
    const contacts = optedOut(2);
    const ctx = await started(sendgridConnector, sg, contacts);
    const controller = new AbortController();
    ctx.signal = controller.signal;
    setTimeout(() => controller.abort(new Error("attempt timed out")), 50);
    await expect(sendgridConnector.deliver([item("c-0"), item("c-1")], ctx)).rejects.toThrow(
      "attempt timed out",
    );
  });

  it("logs counts, never addresses", async () => {
    const sg = await fake();
    const contacts = optedOut(2, "logged");
    logs.length = 0;
    await deliver(
      sendgridConnector,
      [...contacts.keys()].map((id) => item(id)),
      await started(sendgridConnector, sg, contacts),
    );
    const text = JSON.stringify(logs);
    expect(text).toContain('"added":2');
    expect(text).not.toMatch(/@|logged-/);
  });
});

describe("sendgrid connector: unsubscribe group", () => {
  it("init accepts an existing group; deliveries go to the group, not the global list", async () => {
    const sg = await fake({ groups: [4242] });
    const contacts = optedOut(3);
    contacts.set("in", { email: "in@example.com", acceptsEmail: true });
    sg.groupList(4242).add("in@example.com");
    const connector = createSendGridConnector();
    const ctx = await started(connector, sg, contacts, { groupId: 4242 });
    const results = await deliver(
      connector,
      [...contacts.keys()].map((id) => item(id)),
      ctx,
    );
    expect(results.every((r) => r.status === "delivered")).toBe(true);
    expect([...sg.groupList(4242)].sort()).toEqual(["c0@example.com", "c1@example.com", "c2@example.com"]);
    expect(sg.globalSuppressions.size).toBe(0);
    expect(sg.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      "GET /v3/asm/groups/4242",
      "POST /v3/asm/groups/4242/suppressions",
      "DELETE /v3/asm/groups/4242/suppressions/in%40example.com",
    ]);
  });

  it("init refuses to start with an unknown group, naming the danger", async () => {
    const sg = await fake({ groups: [1] });
    const ctx = context(sg, undefined, { groupId: 4242 });
    await expect(sendgridConnector.init?.(ctx.config, ctx)).rejects.toThrow(
      /unsubscribe group 4242 does not exist in SendGrid .*refusing to start.*GLOBAL unsubscribe list/,
    );
    expect(sg.requests.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
      "GET /v3/asm/groups/4242 404",
    ]);
  });

  it("init refuses a refused key and reports unhealthy; starts anyway when SendGrid is only down", async () => {
    const sg = await fake({ groups: [4242] });
    const bad = context(sg, undefined, { groupId: 4242, apiKey: "SG.wrong" });
    await expect(sendgridConnector.init?.(bad.config, bad)).rejects.toThrow(
      /SendGrid refused the API key \(401\)/,
    );
    expect(bad.reports.at(-1)).toMatch(/^unhealthy: SendGrid refused the API key \(401\)/);

    sg.failNext(1, { status: 503 });
    const connector = createSendGridConnector();
    const ctx = await started(connector, sg, optedOut(1), { groupId: 4242 });
    // Unchecked at start: checked before the first POST.
    await deliver(connector, [item("c-0")], ctx);
    expect(sg.requests.slice(-2).map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
      "GET /v3/asm/groups/4242 200",
      "POST /v3/asm/groups/4242/suppressions 201",
    ]);
  });

  it("a group deleted while running: opt-outs dead (never sent to the global list), connector unhealthy", async () => {
    const sg = await fake({ groups: [4242] });
    const connector = createSendGridConnector({ groupRecheckMs: 0 });
    const contacts = optedOut(2);
    contacts.set("in", { email: "in@example.com", acceptsEmail: true });
    const ctx = await started(connector, sg, contacts, { groupId: 4242 });
    sg.groups.delete(4242);
    const results = await deliver(
      connector,
      [...contacts.keys()].map((id) => item(id)),
      ctx,
    );
    expect(results[0]).toMatchObject({ status: "dead" });
    expect((results[0] as { reason: string }).reason).toMatch(
      /^unsubscribe group 4242 does not exist in SendGrid/,
    );
    expect(results[2]).toMatchObject({ status: "delivered" }); // removing from a missing group harms nobody
    expect(sg.globalSuppressions.size).toBe(0);
    expect(sg.requests.filter((r) => r.method === "POST")).toHaveLength(0);
    expect(ctx.reports).toContain(`unhealthy: ${(results[0] as { reason: string }).reason}`);
  });
});

const INVALID_ADDRESS_ANSWERS: FakeSendGridInvalidAddress[] = ["reject", "omit", "omit-all"];
const UNKNOWN_GROUP_ANSWERS: FakeSendGridUnknownGroup[] = [
  "not-found",
  "bad-request",
  "empty",
  "other-group",
  "list",
];
const reasonOf = (r: DeliveryResult | undefined) => (r as { reason?: string } | undefined)?.reason ?? "";

describe("sendgrid connector: a malformed address, whichever way SendGrid answers it (undocumented)", () => {
  for (const invalidAddress of INVALID_ADDRESS_ANSWERS) {
    for (const groupId of [undefined, 4242]) {
      const mode = groupId === undefined ? "global list" : "group";
      it(`${invalidAddress}, ${mode}: the other addresses delivered, the bad one dead with a masked reason`, async () => {
        const sg = await fake({ invalidAddress, groups: [4242] });
        const contacts = optedOut(8);
        // Passes the connector's loose check; the (fake) SendGrid wants a dotted domain.
        contacts.set("c-5", { email: "user@localhost", acceptsEmail: false });
        const connector = createSendGridConnector();
        const ctx = await started(connector, sg, contacts, groupId === undefined ? {} : { groupId });
        const results = await deliver(
          connector,
          [...contacts.keys()].map((id) => item(id)),
          ctx,
        );
        const good = [...contacts.values()].map((c) => c.email).filter((e) => e !== "user@localhost");
        expect(results.map((r, i) => (i === 5 ? "bad" : r.status))).toEqual([
          ...Array(5).fill("delivered"),
          "bad",
          ...Array(2).fill("delivered"),
        ]);
        expect(results[5]?.status).toBe("dead");
        const reason = reasonOf(results[5]);
        if (invalidAddress === "reject") {
          expect(reason).toBe(
            "SendGrid rejected the request (400): <email> is not a valid email address (recipient_emails)",
          );
        } else if (groupId === undefined) {
          expect(reason).toBe(
            "SendGrid answered 201 but did not add the address: its answer leaves it out and " +
              "GET /v3/asm/suppressions/global/<email> shows it is not suppressed (SendGrid probably finds it malformed)",
          );
        } else {
          expect(reason).toBe(
            "SendGrid answered 201 but did not add the address: its answer leaves it out and a search of " +
              "unsubscribe group 4242 does not find it (SendGrid probably finds it malformed)",
          );
        }
        expect(reason).not.toMatch(/user|localhost/);
        const list = groupId === undefined ? sg.globalSuppressions : sg.groupList(groupId);
        expect([...list].sort()).toEqual(good.sort());
        if (groupId !== undefined) expect(sg.globalSuppressions.size).toBe(0);
        // Halving isolates it: a handful of calls, never one per address and lookup.
        expect(sg.requests.length).toBeLessThanOrEqual(groupId === undefined ? 8 : 12);
        expect(JSON.stringify(logs)).not.toMatch(/localhost/);
      });
    }
  }

  it("a 201 that leaves out an address already listed: looked up, and delivered; the echo compared case-insensitively", async () => {
    const sg = await fake();
    sg.globalSuppressions.add("c0@example.com");
    const contacts = optedOut(3);
    // SendGrid's echo names c1 (in capitals) but not c0, and (being an injected answer) stores nothing.
    sg.failNext(1, { status: 201, method: "POST", body: { recipient_emails: ["C1@EXAMPLE.COM"] } });
    const results = await deliver(
      sendgridConnector,
      [item("c-0"), item("c-1")],
      await started(sendgridConnector, sg, contacts),
    );
    expect(results).toMatchObject([{ status: "delivered" }, { status: "delivered" }]);
    expect(sg.requests.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
      "POST /v3/asm/suppressions/global 201",
      "GET /v3/asm/suppressions/global/c0%40example.com 200",
    ]);
  });

  it("a 201 that names nothing is never taken for delivered: the request is halved and each part checked", async () => {
    const sg = await fake();
    const contacts = optedOut(2);
    sg.failNext(1, { status: 201, method: "POST", body: "" });
    const results = await deliver(
      sendgridConnector,
      [item("c-0"), item("c-1")],
      await started(sendgridConnector, sg, contacts),
    );
    expect(results).toMatchObject([{ status: "delivered" }, { status: "delivered" }]);
    expect([...sg.globalSuppressions].sort()).toEqual(["c0@example.com", "c1@example.com"]);
    expect(sg.requests.map((r) => `${r.method} ${r.emails.length} ${r.status}`)).toEqual([
      "POST 2 201",
      "POST 1 201",
      "POST 1 201",
    ]);
  });

  it("group mode: a 201 without its list is checked with one search of the group", async () => {
    const sg = await fake({ groups: [4242] });
    const contacts = optedOut(3);
    for (const c of contacts.values()) if (c.email) sg.groupList(4242).add(c.email);
    const connector = createSendGridConnector();
    const ctx = await started(connector, sg, contacts, { groupId: 4242 });
    sg.failNext(1, { status: 201, method: "POST", body: "" });
    const results = await deliver(
      connector,
      [...contacts.keys()].map((id) => item(id)),
      ctx,
    );
    expect(results.every((r) => r.status === "delivered")).toBe(true);
    expect(sg.requests.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
      "GET /v3/asm/groups/4242 200",
      "POST /v3/asm/groups/4242/suppressions 201",
      "POST /v3/asm/groups/4242/suppressions/search 200",
    ]);
  });

  it("a lookup that fails: that address retried, never reported delivered", async () => {
    const sg = await fake();
    const contacts = optedOut(1);
    sg.failNext(1, { status: 201, method: "POST", body: { recipient_emails: [] } });
    sg.failNext(1, { status: 503, method: "GET" });
    const results = await deliver(
      sendgridConnector,
      [item("c-0")],
      await started(sendgridConnector, sg, contacts),
    );
    expect(results).toEqual([{ status: "retry", reason: "SendGrid answered 503: service unavailable" }]);

    // An answer that says neither "listed" nor "not listed": retried too.
    sg.failNext(1, { status: 201, method: "POST", body: { recipient_emails: [] } });
    sg.failNext(1, { status: 200, method: "GET", body: [] });
    const again = await deliver(
      sendgridConnector,
      [item("c-0")],
      await started(sendgridConnector, sg, contacts),
    );
    expect(again).toEqual([
      { status: "retry", reason: "SendGrid answered 200 without saying whether the address is suppressed" },
    ]);
  });
});

describe("sendgrid connector: an unknown group, whichever way SendGrid answers it (undocumented)", () => {
  for (const unknownGroup of UNKNOWN_GROUP_ANSWERS) {
    it(`${unknownGroup}: init refuses to start, naming the group`, async () => {
      const sg = await fake({ groups: [1], unknownGroup });
      const ctx = context(sg, undefined, { groupId: 4242 });
      const error = await Promise.resolve(sendgridConnector.init?.(ctx.config, ctx)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toMatch(
        /^unsubscribe group 4242 (does not exist|could not be confirmed) in SendGrid \(GET \/v3\/asm\/groups\/4242 answered (404|400|200)[^)]*\)+; refusing to start, because SendGrid silently puts addresses sent to an unknown group on the GLOBAL unsubscribe list/,
      );
      expect(sg.requests).toHaveLength(1);
    });

    it(`${unknownGroup}: a group gone while running is never written to; opt-outs dead, connector unhealthy`, async () => {
      const sg = await fake({ groups: [4242], unknownGroup });
      const connector = createSendGridConnector({ groupRecheckMs: 0 });
      const contacts = optedOut(2);
      const ctx = await started(connector, sg, contacts, { groupId: 4242 });
      sg.groups.delete(4242);
      const results = await deliver(
        connector,
        [...contacts.keys()].map((id) => item(id)),
        ctx,
      );
      expect(results.map((r) => r.status)).toEqual(["dead", "dead"]);
      expect(reasonOf(results[0])).toMatch(
        /^unsubscribe group 4242 (does not exist|could not be confirmed) in SendGrid \(GET \/v3\/asm\/groups\/4242 answered .*\); opt-outs are not sent/,
      );
      expect(sg.requests.filter((r) => r.method === "POST")).toHaveLength(0);
      expect(sg.globalSuppressions.size).toBe(0);
      expect(ctx.reports.at(-1)).toBe(`unhealthy: ${reasonOf(results[0])}`);
    });
  }
});
