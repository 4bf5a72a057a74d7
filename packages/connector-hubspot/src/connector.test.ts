import {
  type DeliveryContext,
  type DeliveryItem,
  type EngageContact,
  type PreferenceEvent,
  parseEngageEvent,
  RetryableError,
} from "@engage-bridge/core";
import {
  FAKE_HUBSPOT_SUBSCRIPTION_ID,
  FAKE_HUBSPOT_TOKEN,
  type FakeHubSpot,
  type FakeHubSpotOptions,
  sampleEvent,
  startFakeHubSpot,
} from "@engage-bridge/testkit";
import { afterEach, describe, expect, it, vi } from "vitest";
import { DAILY_RETRY_MS } from "./answers.ts";
import { apiFor } from "./api.ts";
import type { HubSpotConfig } from "./config.ts";
import { hubspot, UNKNOWN_CONTACT_RETRY_MS } from "./connector.ts";

const fakes: FakeHubSpot[] = [];
afterEach(async () => {
  for (const f of fakes.splice(0)) await f.close();
});

async function fake(options: FakeHubSpotOptions = {}) {
  const f = await startFakeHubSpot(options);
  fakes.push(f);
  return f;
}

const silent = { debug() {}, info() {}, warn() {}, error() {} };

type Contacts = Record<
  string,
  { email?: string; acceptsEmail?: boolean; acceptsSms?: boolean; acceptsPostal?: boolean }
>;

function lookupFrom(contacts: Contacts) {
  return vi.fn(async (id: string): Promise<EngageContact | undefined> => {
    const c = contacts[id];
    if (!c) return undefined;
    return {
      id,
      email: c.email,
      mobilePhone: undefined,
      preferences: { acceptsEmail: c.acceptsEmail, acceptsSms: c.acceptsSms, acceptsPostal: c.acceptsPostal },
      raw: c,
    };
  });
}

function context(
  f: FakeHubSpot,
  config: Record<string, unknown> = {},
  options: {
    contacts?: Contacts;
    lookup?: DeliveryContext<HubSpotConfig>["lookupContact"] | null;
    signal?: AbortSignal;
  } = {},
) {
  const health = { unhealthy: vi.fn(), healthy: vi.fn() };
  const pace = vi.fn(async () => {});
  const ctx: DeliveryContext<HubSpotConfig> = {
    config: hubspot.configSchema.parse({
      accessToken: FAKE_HUBSPOT_TOKEN,
      baseUrl: f.url,
      subscriptionId: Number(FAKE_HUBSPOT_SUBSCRIPTION_ID),
      ...config,
    }),
    logger: silent,
    health,
    signal: options.signal ?? new AbortController().signal,
    lookupContact:
      options.lookup === null ? undefined : (options.lookup ?? lookupFrom(options.contacts ?? {})),
    pace,
  };
  return { ctx, health, pace };
}

let n = 0;
function item(
  contactId: string,
  channel: "Email" | "Sms" | "Postal" = "Email",
  value?: boolean,
): DeliveryItem<PreferenceEvent> {
  const body = sampleEvent(`contact.accepts${channel}.changed`, {
    contactId,
    payload: value === undefined ? {} : { value },
  });
  const event = parseEngageEvent(body) as PreferenceEvent;
  return { deliveryId: `d${++n}`, event, attempt: 1, receivedAt: new Date() };
}

describe("hubspot connector: email statuses", () => {
  it("subscribes with a single write, the email URL-encoded in the path, legal basis included", async () => {
    const f = await fake();
    const email = "Ann+news@example.com";
    const { ctx, health, pace } = context(
      f,
      { legalBasisExplanation: "Opted in at the till" },
      {
        contacts: { c1: { email, acceptsEmail: true } },
      },
    );
    expect(await hubspot.deliver([item("c1")], ctx)).toEqual([{ status: "delivered" }]);
    expect(f.status(email)).toMatchObject({
      statusState: "SUBSCRIBED",
      legalBasis: "CONSENT_WITH_NOTICE",
      legalBasisExplanation: "Opted in at the till",
    });
    expect(f.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      "POST /communication-preferences/2026-03/statuses/Ann%2Bnews%40example.com",
    ]);
    expect(f.requests[0]?.body).toEqual({
      channel: "EMAIL",
      statusState: "SUBSCRIBED",
      subscriptionId: 123456,
      legalBasis: "CONSENT_WITH_NOTICE",
      legalBasisExplanation: "Opted in at the till",
    });
    expect(health.healthy).toHaveBeenCalled();
    expect(pace).not.toHaveBeenCalled();
  });

  it("applies Engage's current value, not the event's", async () => {
    const f = await fake();
    f.setStatus("b@example.com", FAKE_HUBSPOT_SUBSCRIPTION_ID, "SUBSCRIBED");
    const { ctx } = context(f, {}, { contacts: { c1: { email: "b@example.com", acceptsEmail: false } } });
    expect(await hubspot.deliver([item("c1", "Email", true)], ctx)).toEqual([{ status: "delivered" }]);
    expect(f.status("b@example.com")?.statusState).toBe("UNSUBSCRIBED");
  });

  it("writes one request per email in single mode, pacing every request after the first", async () => {
    const f = await fake();
    const { ctx, pace } = context(
      f,
      {},
      {
        contacts: {
          c1: { email: "a@example.com", acceptsEmail: true },
          c2: { email: "b@example.com", acceptsEmail: false },
        },
      },
    );
    const results = await hubspot.deliver([item("c1"), item("c2"), item("c1")], ctx);
    expect(results).toEqual(Array(3).fill({ status: "delivered" }));
    expect(f.requests).toHaveLength(2);
    expect(pace).toHaveBeenCalledTimes(1);
    expect(hubspot.batchSizeFor?.(ctx.config)).toBe(1);
  });

  it("maps a 2xx without a result, or with the input in errors, to retry or dead", async () => {
    const f = await fake();
    const { ctx } = context(f, {}, { contacts: { c1: { email: "a@example.com", acceptsEmail: true } } });
    f.failNext(1, { type: "empty-results" });
    const [empty] = await hubspot.deliver([item("c1")], ctx);
    expect(empty).toMatchObject({ status: "retry", reason: expect.stringMatching(/without a result/) });
    f.failNext(1, { type: "errors-in-2xx", category: "INTERNAL_ERROR", message: "try later" });
    const [listed] = await hubspot.deliver([item("c1")], ctx);
    expect(listed).toMatchObject({
      status: "retry",
      reason: expect.stringMatching(/INTERNAL_ERROR: try later/),
    });
    f.failNext(1, {
      type: "errors-in-2xx",
      category: "VALIDATION_ERROR",
      message: "bad input for a@example.com",
    });
    const [invalid] = await hubspot.deliver([item("c1")], ctx);
    expect(invalid).toMatchObject({
      status: "dead",
      reason: expect.stringMatching(/VALIDATION_ERROR: bad input for \[email\]/),
    });
    expect(f.status("a@example.com")).toBeUndefined();
  });

  it("batch mode: one statuses/batch/write for the whole batch, results matched by email", async () => {
    const f = await fake();
    const { ctx, pace } = context(
      f,
      { batch: true },
      {
        contacts: {
          c1: { email: "a@example.com", acceptsEmail: true },
          c2: { email: "B@Example.com", acceptsEmail: false },
          c3: { email: "not-an-email", acceptsEmail: true },
        },
      },
    );
    expect(hubspot.batchSizeFor?.(ctx.config)).toBe(100);
    const results = await hubspot.deliver([item("c1"), item("c2"), item("c3"), item("c1")], ctx);
    expect(results.map((r) => r.status)).toEqual(["delivered", "delivered", "dead", "delivered"]);
    expect(results[2]).toMatchObject({
      reason: expect.stringMatching(/VALIDATION_ERROR: Invalid email address/),
    });
    expect(f.requests.map((r) => r.path)).toEqual([
      "/communication-preferences/2026-03/statuses/batch/write",
    ]);
    expect((f.requests[0]?.body as { inputs?: unknown[] } | undefined)?.inputs).toHaveLength(3);
    expect(f.status("a@example.com")?.statusState).toBe("SUBSCRIBED");
    expect(f.status("b@example.com")?.statusState).toBe("UNSUBSCRIBED");
    expect(pace).not.toHaveBeenCalled();
  });

  it("batch mode: errors or missing results in a 2xx retry the inputs concerned", async () => {
    const f = await fake();
    const { ctx } = context(
      f,
      { batch: true },
      {
        contacts: {
          c1: { email: "a@example.com", acceptsEmail: true },
          c2: { email: "b@example.com", acceptsEmail: true },
        },
      },
    );
    f.failNext(1, { type: "errors-in-2xx" });
    expect((await hubspot.deliver([item("c1"), item("c2")], ctx)).map((r) => r.status)).toEqual([
      "retry",
      "retry",
    ]);
    f.failNext(1, { type: "empty-results" });
    const empty = await hubspot.deliver([item("c1"), item("c2")], ctx);
    expect(empty).toEqual(
      Array(2).fill(
        expect.objectContaining({ status: "retry", reason: expect.stringMatching(/without a result/) }),
      ),
    );
    expect(f.status("a@example.com")).toBeUndefined();
  });

  it("batch mode: a 400 naming one input kills only that input", async () => {
    const f = await fake();
    const { ctx } = context(
      f,
      { batch: true },
      {
        contacts: {
          c1: { email: "a@example.com", acceptsEmail: true },
          c2: { email: "b@example.com", acceptsEmail: true },
        },
      },
    );
    f.failNext(1, { type: "validation", message: "Invalid subscriber: b@example.com." });
    const results = await hubspot.deliver([item("c1"), item("c2")], ctx);
    expect(results.map((r) => r.status)).toEqual(["retry", "dead"]);
    // A message about another address that merely ends like this one names nobody here.
    f.failNext(1, { type: "validation", message: "Invalid subscriber ba@example.com" });
    expect((await hubspot.deliver([item("c1"), item("c2")], ctx)).map((r) => r.status)).toEqual([
      "dead",
      "dead",
    ]);
    f.failNext(1, { type: "validation", message: "Malformed request" });
    expect((await hubspot.deliver([item("c1"), item("c2")], ctx)).map((r) => r.status)).toEqual([
      "dead",
      "dead",
    ]);
  });
});

describe("hubspot connector: SMS and postal", () => {
  it("mirrors SMS and postal into contact properties, one PATCH per contact", async () => {
    const f = await fake({ contacts: ["a@example.com"] });
    const { ctx, pace } = context(
      f,
      { batch: true, smsProperty: "engage_sms", postalProperty: "engage_postal" },
      {
        contacts: {
          c1: { email: "a@example.com", acceptsEmail: true, acceptsSms: true, acceptsPostal: false },
        },
      },
    );
    const results = await hubspot.deliver(
      [item("c1", "Sms"), item("c1", "Postal"), item("c1", "Email")],
      ctx,
    );
    expect(results).toEqual(Array(3).fill({ status: "delivered" }));
    expect(f.contact("a@example.com")).toMatchObject({ engage_sms: "true", engage_postal: "false" });
    expect(f.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      "POST /communication-preferences/2026-03/statuses/batch/write",
      "PATCH /crm/v3/objects/contacts/a%40example.com?idProperty=email",
    ]);
    expect(pace).toHaveBeenCalledTimes(1);
  });

  it("skips SMS and postal without a property, saying why, and sends nothing", async () => {
    const f = await fake();
    const lookup = lookupFrom({ c1: { email: "a@example.com", acceptsSms: true } });
    const { ctx } = context(f, {}, { lookup });
    const [sms, postal] = await hubspot.deliver([item("c1", "Sms"), item("c1", "Postal")], ctx);
    expect(sms).toEqual({
      status: "skipped",
      reason:
        "HubSpot has no SMS consent channel; set smsProperty to mirror acceptsSms into a contact property",
    });
    expect(postal).toMatchObject({
      status: "skipped",
      reason: expect.stringMatching(/no postal consent channel.*postalProperty/),
    });
    expect(f.requests).toHaveLength(0);
    expect(lookup).not.toHaveBeenCalled();
  });

  it("retries a contact HubSpot's CRM does not know, later", async () => {
    const f = await fake();
    const { ctx } = context(
      f,
      { smsProperty: "engage_sms" },
      { contacts: { c1: { email: "new@example.com", acceptsSms: false } } },
    );
    const [result] = await hubspot.deliver([item("c1", "Sms")], ctx);
    expect(result).toMatchObject({
      status: "retry",
      delayMs: UNKNOWN_CONTACT_RETRY_MS,
      reason: expect.stringMatching(/no contact/),
    });
    f.addContact("new@example.com");
    expect(await hubspot.deliver([item("c1", "Sms")], ctx)).toEqual([{ status: "delivered" }]);
    expect(f.contact("new@example.com")?.engage_sms).toBe("false");
  });

  it("does not count a 200 without the contact as applied", async () => {
    const f = await fake({ contacts: ["a@example.com"] });
    const { ctx } = context(
      f,
      { smsProperty: "engage_sms" },
      { contacts: { c1: { email: "a@example.com", acceptsSms: true } } },
    );
    f.failNext(1, { type: "empty-results" });
    expect((await hubspot.deliver([item("c1", "Sms")], ctx))[0]?.status).toBe("retry");
  });
});

describe("hubspot connector: no email", () => {
  it("skips when no Engage lookup is configured, when Engage does not know the contact, or it has no email", async () => {
    const f = await fake();
    const none = context(f, {}, { lookup: null });
    expect((await hubspot.deliver([item("c1", "Email", true)], none.ctx))[0]).toMatchObject({
      status: "skipped",
      reason: expect.stringMatching(/^no email: configure engageApi on the source/),
    });
    const { ctx } = context(f, {}, { contacts: { c2: { acceptsEmail: true } } });
    const [unknown, noEmail] = await hubspot.deliver([item("c1"), item("c2")], ctx);
    expect(unknown).toMatchObject({
      status: "skipped",
      reason: "no email: Engage does not know the contact",
    });
    expect(noEmail).toMatchObject({
      status: "skipped",
      reason: "no email: the contact has no email address in Engage",
    });
    expect(f.requests).toHaveLength(0);
  });

  it("retries when the lookup fails", async () => {
    const f = await fake();
    const lookup = vi.fn(async () => {
      throw new Error("Engage answered 503 for x@example.com");
    });
    const { ctx } = context(f, {}, { lookup });
    expect((await hubspot.deliver([item("c1")], ctx))[0]).toEqual({
      status: "retry",
      reason: "contact lookup failed: Engage answered 503 for [email]",
    });
  });
});

describe("hubspot connector: answers", () => {
  const oneContact = { c1: { email: "a@example.com", acceptsEmail: true } };

  it("429 TEN_SECONDLY_ROLLING: the whole call is retried after the interval, as a rate limit", async () => {
    const f = await fake({ rateLimit: { max: 100, intervalMs: 2_500 } });
    const { ctx } = context(f, {}, { contacts: oneContact });
    f.failNext(1, { type: "rate-limit" });
    const error = await hubspot.deliver([item("c1")], ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryableError);
    expect(error).toMatchObject({
      rateLimited: true,
      delayMs: 2_500,
      message: expect.stringMatching(/429 TEN_SECONDLY_ROLLING/),
    });
  });

  it("429 DAILY: retried much later", async () => {
    const f = await fake();
    const { ctx } = context(f, {}, { contacts: oneContact });
    f.failNext(1, { type: "daily-limit" });
    const error = await hubspot.deliver([item("c1")], ctx).catch((e: unknown) => e);
    expect(error).toMatchObject({
      rateLimited: true,
      delayMs: DAILY_RETRY_MS,
      message: expect.stringMatching(/daily limit/),
    });
  });

  it("5xx and network errors: retry, and nothing more is sent in that call", async () => {
    const f = await fake();
    const { ctx } = context(
      f,
      {},
      { contacts: { ...oneContact, c2: { email: "b@example.com", acceptsEmail: true } } },
    );
    f.failNext(1, { type: "server-error", status: 502 });
    const results = await hubspot.deliver([item("c1"), item("c2")], ctx);
    expect(results[0]).toMatchObject({
      status: "retry",
      reason: expect.stringMatching(/^HubSpot answered 502/),
    });
    expect(results[1]).toMatchObject({
      status: "retry",
      reason: expect.stringMatching(/not sent after an earlier failure/),
    });
    expect(f.requests).toHaveLength(1);
    f.failNext(1, { type: "network" });
    expect((await hubspot.deliver([item("c1")], ctx))[0]).toMatchObject({
      status: "retry",
      reason: expect.stringMatching(/could not be reached/),
    });
  });

  it.each([
    ["unauthorized", 401],
    ["forbidden", 403],
  ] as const)("%s: dead, and the connector reports itself unhealthy", async (type, status) => {
    const f = await fake();
    const { ctx, health } = context(f, {}, { contacts: oneContact });
    f.failNext(1, { type });
    const [result] = await hubspot.deliver([item("c1")], ctx);
    expect(result).toMatchObject({
      status: "dead",
      reason: expect.stringContaining(`HubSpot answered ${status}`),
    });
    expect(health.unhealthy).toHaveBeenCalledWith(expect.stringMatching(/refused the access token/));
    // Recovers on the next answer that works.
    health.healthy.mockClear();
    await hubspot.deliver([item("c1")], ctx);
    expect(health.healthy).toHaveBeenCalled();
  });

  it("400 validation: dead with HubSpot's message and correlation id", async () => {
    const f = await fake();
    const { ctx } = context(f, {}, { contacts: oneContact });
    f.failNext(1, { type: "validation", message: "Legal basis is required" });
    const [result] = await hubspot.deliver([item("c1")], ctx);
    expect(result).toMatchObject({
      status: "dead",
      reason: expect.stringMatching(
        /^HubSpot rejected the write: HubSpot answered 400 VALIDATION_ERROR: Legal basis is required \(correlation id [0-9a-f-]{36}\)$/,
      ),
    });
  });

  it("a call cannot hang: an aborted signal ends it while HubSpot is still silent", async () => {
    const f = await fake();
    f.latencyMs = 5_000;
    const controller = new AbortController();
    const { ctx } = context(f, {}, { contacts: oneContact, signal: controller.signal });
    setTimeout(() => controller.abort(new Error("attempt timed out")), 100);
    const started = Date.now();
    await expect(hubspot.deliver([item("c1")], ctx)).rejects.toThrow("attempt timed out");
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});

describe("hubspot connector: start-up check and client", () => {
  const init = (f: FakeHubSpot, config: Record<string, unknown> = {}) => {
    const { ctx, health } = context(f, config);
    const { config: parsed, ...rest } = ctx;
    return { run: () => hubspot.init?.(parsed, { ...rest, signal: AbortSignal.timeout(10_000) }), health };
  };

  it("passes when the subscription type exists", async () => {
    const f = await fake();
    await expect(init(f).run()).resolves.toBeUndefined();
    expect(f.requests.map((r) => r.path)).toEqual(["/communication-preferences/2026-03/definitions"]);
  });

  it("fails with a clear message for an unknown subscriptionId, listing the account's types", async () => {
    const f = await fake({ subscriptions: [{ id: "42", name: "Newsletter" }] });
    await expect(init(f).run()).rejects.toThrow(
      "subscriptionId 123456 does not exist in this HubSpot account; its subscription types are: 42 (Newsletter)",
    );
  });

  it("fails for a refused token, and reports the connector unhealthy", async () => {
    const f = await fake();
    const { run, health } = init(f, { accessToken: "wrong" });
    await expect(run()).rejects.toThrow(/refused the access token \(401\): check accessToken/);
    expect(health.unhealthy).toHaveBeenCalled();
  });

  it("fails for an API version HubSpot does not have", async () => {
    const f = await fake();
    await expect(init(f, { apiVersion: "2019-01" }).run()).rejects.toThrow(
      /no Communication Preferences API version "2019-01"/,
    );
  });

  it("tries again after a 5xx", async () => {
    const f = await fake();
    f.failNext(1, { type: "server-error" });
    await expect(init(f).run()).resolves.toBeUndefined();
    expect(f.requests.map((r) => r.status)).toEqual([500, 200]);
  });

  it("creates one SDK client per config object", async () => {
    const f = await fake();
    const a = context(f).ctx.config;
    const b = context(f).ctx.config;
    expect(apiFor(a)).toBe(apiFor(a));
    expect(apiFor(a)).not.toBe(apiFor(b));
  });
});
