import {
  type DeliveryContext,
  type DeliveryItem,
  type EngageContact,
  type InitContext,
  type PreferenceEvent,
  parseEngageEvent,
  RetryableError,
} from "@engage-bridge/core";
import {
  FAKE_HUBSPOT_SCOPES,
  FAKE_HUBSPOT_SUBSCRIPTION_ID,
  FAKE_HUBSPOT_TOKEN,
  type FakeBatchWriteAnswer,
  type FakeContactProperty,
  type FakeHubSpot,
  type FakeHubSpotOptions,
  sampleEvent,
  startFakeHubSpot,
} from "@engage-bridge/testkit";
import { afterEach, describe, expect, it, vi } from "vitest";
import { DAILY_RETRY_MS } from "./answers.ts";
import type { HubSpotConfig } from "./config.ts";
import { type HubSpotState, hubspot, PROPERTY_RETRY_MS, UNKNOWN_CONTACT_RETRY_MS } from "./connector.ts";

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

interface ContextOptions {
  contacts?: Contacts;
  lookup?: DeliveryContext<HubSpotConfig>["lookupContact"] | null;
  signal?: AbortSignal;
}

/** A parsed config for the fake and what `init` receives with it. */
function parts(f: FakeHubSpot, config: Record<string, unknown> = {}, options: ContextOptions = {}) {
  const health = { unhealthy: vi.fn(), healthy: vi.fn() };
  const pace = vi.fn(async () => {});
  const parsed = hubspot.configSchema.parse({
    accessToken: FAKE_HUBSPOT_TOKEN,
    baseUrl: f.url,
    subscriptionId: Number(FAKE_HUBSPOT_SUBSCRIPTION_ID),
    ...config,
  });
  const initCtx: InitContext<HubSpotConfig> = {
    logger: silent,
    health,
    signal: options.signal ?? new AbortController().signal,
    lookupContact:
      options.lookup === null ? undefined : (options.lookup ?? lookupFrom(options.contacts ?? {})),
    pace,
  };
  return { config: parsed, initCtx, health, pace };
}

/** `hubspot.init`, which the connector has (the definition's type makes it optional). */
function start(config: HubSpotConfig, ctx: InitContext<HubSpotConfig>): Promise<HubSpotState> {
  if (!hubspot.init) throw new Error("the HubSpot connector has an init");
  return hubspot.init(config, ctx);
}

/**
 * A delivery context as the gateway makes it: `init` runs once for the instance and its state is in
 * the context of every `deliver` (reuse the returned `ctx` to reuse the instance). What init sent and
 * reported is forgotten, so that each test sees only its deliveries.
 */
async function context(f: FakeHubSpot, config: Record<string, unknown> = {}, options: ContextOptions = {}) {
  const { config: parsed, initCtx, health, pace } = parts(f, config, options);
  const state = await start(parsed, initCtx);
  f.requests.splice(0);
  health.healthy.mockClear();
  health.unhealthy.mockClear();
  pace.mockClear();
  const ctx: DeliveryContext<HubSpotConfig, HubSpotState> = { ...initCtx, config: parsed, state };
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
    const { ctx, health, pace } = await context(
      f,
      { legalBasisExplanation: "Opted in at the till" },
      {
        contacts: { c1: { email, acceptsEmail: true } },
      },
    );
    expect(await hubspot.deliver([item("c1")], ctx)).toMatchObject([{ status: "delivered" }]);
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
    const { ctx } = await context(
      f,
      {},
      { contacts: { c1: { email: "b@example.com", acceptsEmail: false } } },
    );
    // The result says what was applied and where the value came from (the operator console shows it).
    expect(await hubspot.deliver([item("c1", "Email", true)], ctx)).toEqual([
      { status: "delivered", consent: { value: false, from: "engage-api" } },
    ]);
    expect(f.status("b@example.com")?.statusState).toBe("UNSUBSCRIBED");
  });

  it("writes one request per email in single mode, pacing every request after the first", async () => {
    const f = await fake();
    const { ctx, pace } = await context(
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
    expect(results).toMatchObject(Array(3).fill({ status: "delivered" }));
    expect(f.requests).toHaveLength(2);
    expect(pace).toHaveBeenCalledTimes(1);
    expect(hubspot.batchSizeFor?.(ctx.config)).toBe(1);
  });

  it("maps a 2xx without a result, or with the input in errors, to retry or dead", async () => {
    const f = await fake();
    const { ctx } = await context(
      f,
      {},
      { contacts: { c1: { email: "a@example.com", acceptsEmail: true } } },
    );
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
      reason: expect.stringMatching(/VALIDATION_ERROR: bad input for <email>/),
    });
    expect(f.status("a@example.com")).toBeUndefined();
  });

  it("batch mode: one statuses/batch/write for the whole batch, results matched by email", async () => {
    const f = await fake();
    const { ctx, pace } = await context(
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
    const { ctx } = await context(
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
    const { ctx } = await context(
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

  // HubSpot's spec documents a 200 for statuses/batch/write and leaves open how a failed input is
  // reported: whatever the answer, an input without its own result is never `delivered`.
  it.each<[FakeBatchWriteAnswer, "dead" | "retry"]>([
    [{ partialStatus: 207, errors: "context" }, "dead"],
    [{ partialStatus: 200, errors: "context" }, "dead"],
    [{ partialStatus: 207, errors: "id" }, "dead"],
    [{ partialStatus: 200, errors: "message" }, "dead"],
    [{ partialStatus: 207, errors: "detail" }, "dead"],
    [{ partialStatus: 200, errors: "detail" }, "dead"],
    [{ partialStatus: 207, errors: "unattributed" }, "retry"],
    [{ partialStatus: 200, errors: "unattributed" }, "retry"],
    [{ partialStatus: 207, errors: "omitted" }, "retry"],
    [{ partialStatus: 200, errors: "omitted" }, "retry"],
  ])("batch mode, failed input reported as %j: %s, the others delivered", async (batchWrite, failed) => {
    const f = await fake({ batchWrite });
    const { ctx } = await context(
      f,
      { batch: true },
      {
        contacts: {
          c1: { email: "a@example.com", acceptsEmail: true },
          c2: { email: "not-an-email", acceptsEmail: true },
          c3: { email: "b@example.com", acceptsEmail: false },
        },
      },
    );
    const results = await hubspot.deliver([item("c1"), item("c2"), item("c3")], ctx);
    expect(results.map((r) => r.status)).toEqual(["delivered", failed, "delivered"]);
    expect(results[1]).toMatchObject({
      reason:
        failed === "dead"
          ? expect.stringMatching(/VALIDATION_ERROR: Invalid email address/)
          : expect.stringMatching(/without a result for this email/),
    });
    expect(f.requests).toHaveLength(1);
  });
});

describe("hubspot connector: SMS and postal", () => {
  it("mirrors SMS and postal into contact properties, one PATCH per contact", async () => {
    const f = await fake({ contacts: ["a@example.com"] });
    const { ctx, pace } = await context(
      f,
      { batch: true, smsProperty: "engage_accepts_sms", postalProperty: "engage_accepts_postal" },
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
    expect(results).toMatchObject(Array(3).fill({ status: "delivered" }));
    expect(f.contact("a@example.com")).toMatchObject({
      engage_accepts_sms: "true",
      engage_accepts_postal: "false",
    });
    expect(f.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      "POST /communication-preferences/2026-03/statuses/batch/write",
      "PATCH /crm/v3/objects/contacts/a%40example.com?idProperty=email",
    ]);
    expect(pace).toHaveBeenCalledTimes(1);
  });

  it("skips SMS and postal without a property, saying why, and sends nothing", async () => {
    const f = await fake();
    const lookup = lookupFrom({ c1: { email: "a@example.com", acceptsSms: true } });
    const { ctx } = await context(f, {}, { lookup });
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
    const { ctx } = await context(
      f,
      { smsProperty: "engage_accepts_sms" },
      { contacts: { c1: { email: "new@example.com", acceptsSms: false } } },
    );
    const [result] = await hubspot.deliver([item("c1", "Sms")], ctx);
    expect(result).toMatchObject({
      status: "retry",
      delayMs: UNKNOWN_CONTACT_RETRY_MS,
      reason: expect.stringMatching(/no contact/),
    });
    f.addContact("new@example.com");
    expect(await hubspot.deliver([item("c1", "Sms")], ctx)).toMatchObject([{ status: "delivered" }]);
    expect(f.contact("new@example.com")?.engage_accepts_sms).toBe("false");
  });

  it("does not count a 200 without the contact as applied", async () => {
    const f = await fake({ contacts: ["a@example.com"] });
    const { ctx } = await context(
      f,
      { smsProperty: "engage_accepts_sms" },
      { contacts: { c1: { email: "a@example.com", acceptsSms: true } } },
    );
    f.failNext(1, { type: "empty-results" });
    expect((await hubspot.deliver([item("c1", "Sms")], ctx))[0]?.status).toBe("retry");
  });
});

describe("hubspot connector: a mirrored property HubSpot refuses", () => {
  const contacts = {
    c1: { email: "a@example.com", acceptsEmail: true, acceptsSms: true },
    c2: { email: "b@example.com", acceptsSms: false },
    c3: { email: "c@example.com", acceptsPostal: true },
  };
  const config = { smsProperty: "engage_accepts_sms", postalProperty: "engage_accepts_postal" };

  it("deleted while running: unhealthy, the items wait an hour instead of dying, and recover once it is back", async () => {
    const f = await fake({ contacts: ["a@example.com", "b@example.com", "c@example.com"] });
    const { ctx, health } = await context(f, config, { contacts });
    f.deleteContactProperty("engage_accepts_sms");
    const results = await hubspot.deliver([item("c1", "Sms"), item("c2", "Sms"), item("c3", "Postal")], ctx);
    expect(results.map((r) => r.status)).toEqual(["retry", "retry", "delivered"]);
    expect(results[0]).toMatchObject({
      delayMs: PROPERTY_RETRY_MS,
      reason: expect.stringMatching(
        /^HubSpot refused the contact property smsProperty "engage_accepts_sms": HubSpot answered 400 VALIDATION_ERROR: Property values were not valid: .*PROPERTY_DOESNT_EXIST/,
      ),
    });
    // The second SMS change would fail the same way: it is not sent.
    expect(results[1]).toMatchObject({
      delayMs: PROPERTY_RETRY_MS,
      reason: expect.stringMatching(/^not sent: /),
    });
    expect(f.requests.map((r) => r.status)).toEqual([400, 200]);
    expect(health.unhealthy).toHaveBeenLastCalledWith(
      expect.stringMatching(/smsProperty "engage_accepts_sms"/),
    );
    expect(JSON.stringify(results)).not.toMatch(/@/);

    // Email statuses still work, but the connector stays unhealthy while SMS cannot be applied.
    health.healthy.mockClear();
    expect(await hubspot.deliver([item("c1", "Email")], ctx)).toMatchObject([{ status: "delivered" }]);
    expect(health.healthy).not.toHaveBeenCalled();
    expect(health.unhealthy).toHaveBeenLastCalledWith(
      expect.stringMatching(/smsProperty "engage_accepts_sms"/),
    );

    // The operator creates the property again: the waiting changes go through, and all is well.
    f.defineContactProperty({ name: "engage_accepts_sms", type: "bool", fieldType: "booleancheckbox" });
    expect(await hubspot.deliver([item("c1", "Sms"), item("c2", "Sms")], ctx)).toMatchObject(
      Array(2).fill({ status: "delivered" }),
    );
    expect(health.healthy).toHaveBeenCalled();
    expect(f.contact("b@example.com")?.engage_accepts_sms).toBe("false");
  });

  it("a value the property refuses (INVALID_OPTION), or HubSpot's message alone naming the property, is the same problem", async () => {
    const f = await fake({ contacts: ["a@example.com"] });
    const { ctx, health } = await context(f, config, { contacts });
    f.defineContactProperty({
      name: "engage_accepts_sms",
      type: "enumeration",
      fieldType: "select",
      options: [
        { label: "Yes", value: "yes" },
        { label: "No", value: "no" },
      ],
    });
    const [option] = await hubspot.deliver([item("c1", "Sms")], ctx);
    expect(option).toMatchObject({
      status: "retry",
      delayMs: PROPERTY_RETRY_MS,
      reason: expect.stringMatching(/smsProperty "engage_accepts_sms".*INVALID_OPTION/),
    });
    f.defineContactProperty({ name: "engage_accepts_sms", type: "bool", fieldType: "booleancheckbox" });
    f.failNext(1, {
      type: "validation",
      message:
        'Property values were not valid: [{"isValid":false,"message":"Property \\"engage_accepts_sms\\" does not exist","error":"PROPERTY_DOESNT_EXIST","name":"engage_accepts_sms"}]',
    });
    expect((await hubspot.deliver([item("c1", "Sms")], ctx))[0]).toMatchObject({
      status: "retry",
      delayMs: PROPERTY_RETRY_MS,
    });
    expect(health.unhealthy).toHaveBeenCalledTimes(2);
    // A 400 that is not about property values stays what it was: dead with HubSpot's message.
    f.failNext(1, { type: "validation", message: "Malformed request" });
    expect((await hubspot.deliver([item("c1", "Sms")], ctx))[0]).toMatchObject({ status: "dead" });
  });
});

describe("hubspot connector: no email", () => {
  it("skips when no Engage lookup is configured, when Engage does not know the contact, or it has no email", async () => {
    const f = await fake();
    const none = await context(f, {}, { lookup: null });
    expect((await hubspot.deliver([item("c1", "Email", true)], none.ctx))[0]).toMatchObject({
      status: "skipped",
      reason: expect.stringMatching(/^no email address: configure engageApi on the source/),
    });
    const { ctx } = await context(f, {}, { contacts: { c2: { acceptsEmail: true } } });
    const [unknown, noEmail] = await hubspot.deliver([item("c1"), item("c2")], ctx);
    expect(unknown).toMatchObject({
      status: "skipped",
      reason: "no email address: Engage does not know the contact",
    });
    expect(noEmail).toMatchObject({
      status: "skipped",
      reason: "no email address: the contact has none in Engage",
    });
    expect(f.requests).toHaveLength(0);
  });

  it("retries when the lookup fails", async () => {
    const f = await fake();
    const lookup = vi.fn(async () => {
      throw new Error("Engage answered 503 for x@example.com");
    });
    const { ctx } = await context(f, {}, { lookup });
    expect((await hubspot.deliver([item("c1")], ctx))[0]).toEqual({
      status: "retry",
      reason: "contact lookup failed: Engage answered 503 for <email>",
    });
  });
});

describe("hubspot connector: answers", () => {
  const oneContact = { c1: { email: "a@example.com", acceptsEmail: true } };

  it("429 TEN_SECONDLY_ROLLING: the whole call is retried after the interval, as a rate limit", async () => {
    const f = await fake({ rateLimit: { max: 100, intervalMs: 2_500 } });
    const { ctx } = await context(f, {}, { contacts: oneContact });
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
    const { ctx } = await context(f, {}, { contacts: oneContact });
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
    const { ctx } = await context(
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
    const { ctx, health } = await context(f, {}, { contacts: oneContact });
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

  it("403 at delivery names the scope the request needs, from HubSpot's spec", async () => {
    const f = await fake({
      contacts: ["a@example.com"],
      scopes: FAKE_HUBSPOT_SCOPES.filter(
        (s) => s !== "communication_preferences.statuses.batch.write" && s !== "crm.objects.contacts.write",
      ),
    });
    const { ctx, health } = await context(
      f,
      { batch: true, smsProperty: "engage_accepts_sms" },
      { contacts: { c1: { email: "a@example.com", acceptsEmail: true, acceptsSms: true } } },
    );
    const [email] = await hubspot.deliver([item("c1")], ctx);
    expect(email).toMatchObject({
      status: "dead",
      reason: expect.stringMatching(
        /^HubSpot answered 403 MISSING_SCOPES: .*; the private app needs the scope communication_preferences\.statuses\.batch\.write \(all it needs: /,
      ),
    });
    expect(health.unhealthy).toHaveBeenLastCalledWith(
      expect.stringContaining("needs the scope communication_preferences.statuses.batch.write"),
    );
    const [sms] = await hubspot.deliver([item("c1", "Sms")], ctx);
    expect(sms).toMatchObject({
      status: "dead",
      reason: expect.stringContaining("needs the scope crm.objects.contacts.write"),
    });
  });

  it("a 401 in a batch: the items not sent yet are dead too, and nothing more is sent", async () => {
    const f = await fake({ contacts: ["a@example.com", "b@example.com"] });
    const { ctx, health } = await context(
      f,
      { batch: true, smsProperty: "engage_accepts_sms" },
      {
        contacts: {
          c1: { email: "a@example.com", acceptsEmail: true },
          c2: { email: "b@example.com", acceptsSms: true },
        },
      },
    );
    f.failNext(1, { type: "unauthorized" });
    const [email, sms] = await hubspot.deliver([item("c1"), item("c2", "Sms")], ctx);
    expect(email).toMatchObject({ status: "dead", reason: expect.stringMatching(/^HubSpot answered 401/) });
    expect(sms).toMatchObject({
      status: "dead",
      reason: expect.stringMatching(
        /^not sent after an earlier answer in the same batch: HubSpot answered 401/,
      ),
    });
    expect(f.requests).toHaveLength(1);
    expect(health.unhealthy).toHaveBeenCalledTimes(1);
  });

  it("a 403 concerns one kind of request: that kind is not sent again in the call, the others are", async () => {
    const f = await fake({
      contacts: ["a@example.com", "b@example.com"],
      scopes: FAKE_HUBSPOT_SCOPES.filter((s) => s !== "crm.objects.contacts.write"),
    });
    const contacts = {
      c1: { email: "a@example.com", acceptsEmail: true, acceptsSms: true },
      c2: { email: "b@example.com", acceptsSms: false },
    };
    const { ctx } = await context(f, { batch: true, smsProperty: "engage_accepts_sms" }, { contacts });
    const results = await hubspot.deliver([item("c1", "Sms"), item("c2", "Sms"), item("c1")], ctx);
    expect(results.map((r) => r.status)).toEqual(["dead", "dead", "delivered"]);
    expect(results[1]).toMatchObject({
      reason: expect.stringMatching(
        /^not sent after an earlier answer in the same batch: HubSpot answered 403 .*needs the scope crm\.objects\.contacts\.write/,
      ),
    });
    expect(f.requests.map((r) => `${r.method} ${r.status}`)).toEqual(["POST 200", "PATCH 403"]);

    // The other way round: the batch write is refused, the contact patches still go through.
    f.scopes.add("crm.objects.contacts.write");
    f.scopes.delete("communication_preferences.statuses.batch.write");
    f.requests.splice(0);
    const again = await hubspot.deliver([item("c1"), item("c1", "Sms"), item("c2", "Sms")], ctx);
    expect(again.map((r) => r.status)).toEqual(["dead", "delivered", "delivered"]);
    expect(f.requests.map((r) => `${r.method} ${r.status}`)).toEqual(["POST 403", "PATCH 200", "PATCH 200"]);
  });

  it("400 validation: dead with HubSpot's message and correlation id", async () => {
    const f = await fake();
    const { ctx } = await context(f, {}, { contacts: oneContact });
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
    const controller = new AbortController();
    const { ctx } = await context(f, {}, { contacts: oneContact, signal: controller.signal });
    f.latencyMs = 5_000;
    setTimeout(() => controller.abort(new Error("attempt timed out")), 100);
    const started = Date.now();
    await expect(hubspot.deliver([item("c1")], ctx)).rejects.toThrow("attempt timed out");
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});

describe("hubspot connector: start-up check and client", () => {
  const messageOf = async (running: Promise<unknown>) => {
    try {
      await running;
      return "(no error)";
    } catch (error) {
      return (error as Error).message;
    }
  };

  const init = (f: FakeHubSpot, config: Record<string, unknown> = {}) => {
    const { config: parsed, initCtx, health, pace } = parts(f, config);
    return {
      run: () => start(parsed, { ...initCtx, signal: AbortSignal.timeout(10_000) }),
      health,
      pace,
    };
  };

  /** What a successful init returns: the instance's client, and no property trouble yet. */
  const freshState = {
    api: { preferencesPath: "/communication-preferences/2026-03", request: expect.any(Function) },
    propertyTrouble: new Map(),
  };

  it("passes when the subscription type exists", async () => {
    const f = await fake();
    await expect(init(f).run()).resolves.toMatchObject(freshState);
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

  it("names the Communication Preferences scopes HubSpot's spec requires when the token lacks them", async () => {
    const single = await messageOf(init(await fake({ scopes: [] })).run());
    expect(single).toMatch(
      /refused the access token \(403\): check accessToken and the private app's scopes: communication_preferences\.read and communication_preferences\.write \(or communication_preferences\.read_write for both\); HubSpot names communication_preferences\.read_write, communication_preferences\.read\./,
    );
    expect(single).not.toMatch(/subscriptions?-|statuses\.batch|crm\./);
    const batch = await messageOf(
      init(await fake({ scopes: [] }), { batch: true, smsProperty: "engage_accepts_sms" }).run(),
    );
    expect(batch).toContain(
      "scopes: communication_preferences.read (or communication_preferences.read_write), communication_preferences.statuses.batch.write, crm.objects.contacts.write, crm.schemas.contacts.read",
    );
  });

  it("names crm.schemas.contacts.read when the token cannot read the mirrored property", async () => {
    const f = await fake({
      scopes: FAKE_HUBSPOT_SCOPES.filter((s) => s.startsWith("communication_preferences")),
    });
    const { run, health } = init(f, { postalProperty: "engage_accepts_postal" });
    await expect(run()).rejects.toThrow(
      /refused the access token \(403\): .*crm\.objects\.contacts\.write, crm\.schemas\.contacts\.read .*; HubSpot names crm\.schemas\.contacts\.read, crm\.objects\.contacts\.read, crm\.objects\.contacts\.write\./,
    );
    expect(health.unhealthy).toHaveBeenCalled();
  });

  it("checks that smsProperty and postalProperty exist on contacts, each request after the first paced", async () => {
    const f = await fake();
    const { run, pace, health } = init(f, {
      smsProperty: "engage_accepts_sms",
      postalProperty: "engage_accepts_postal",
    });
    await expect(run()).resolves.toMatchObject(freshState);
    expect(f.requests.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
      "GET /communication-preferences/2026-03/definitions 200",
      "GET /crm/v3/properties/contacts/engage_accepts_sms 200",
      "GET /crm/v3/properties/contacts/engage_accepts_postal 200",
    ]);
    expect(pace).toHaveBeenCalledTimes(2);
    expect(health.healthy).toHaveBeenCalled();
  });

  it("refuses to start when a mirrored property does not exist, naming it", async () => {
    const f = await fake({ contactProperties: [] });
    await expect(init(f, { postalProperty: "engage_accepts_postal" }).run()).rejects.toThrow(
      /^postalProperty "engage_accepts_postal" does not exist on HubSpot contacts \(HubSpot answered 404 OBJECT_NOT_FOUND: .*\): create it as a property of type bool/,
    );
    await expect(init(f, { smsProperty: "engage_sms" }).run()).rejects.toThrow(
      /^smsProperty "engage_sms" does not exist on HubSpot contacts/,
    );
  });

  it.each<[string, Omit<FakeContactProperty, "name">, RegExp | undefined]>([
    ["a bool checkbox", { type: "bool", fieldType: "booleancheckbox" }, undefined],
    [
      "an enumeration with options true and false",
      {
        type: "enumeration",
        fieldType: "radio",
        options: [
          { label: "Yes", value: "true" },
          { label: "No", value: "false" },
          { label: "Unknown", value: "unknown" },
        ],
      },
      undefined,
    ],
    ["a text property", { type: "string", fieldType: "text" }, undefined],
    ["a number", { type: "number", fieldType: "number" }, /it is of type number \(field type number\)/],
    ["a date", { type: "date", fieldType: "date" }, /it is of type date/],
    [
      "an enumeration without true/false",
      {
        type: "enumeration",
        fieldType: "select",
        options: [
          { label: "Yes", value: "yes" },
          { label: "No", value: "no" },
        ],
      },
      /without the options "true" and "false" \(its options: yes, no\)/,
    ],
    [
      "a read-only property",
      { type: "string", fieldType: "text", readOnlyValue: true },
      /its value is read-only/,
    ],
  ])("a mirrored property that is %s", async (_, definition, refused) => {
    const f = await fake({ contactProperties: [{ name: "engage_sms", ...definition }] });
    const run = init(f, { smsProperty: "engage_sms" }).run();
    if (!refused) return expect(run).resolves.toMatchObject(freshState);
    await expect(run).rejects.toThrow(/^smsProperty "engage_sms" cannot hold "true"\/"false" in HubSpot: /);
    await expect(init(f, { smsProperty: "engage_sms" }).run()).rejects.toThrow(refused);
  });

  it("fails for an API version HubSpot does not have", async () => {
    const f = await fake();
    await expect(init(f, { apiVersion: "2019-01" }).run()).rejects.toThrow(
      /no Communication Preferences API version "2019-01"/,
    );
  });

  it("fails for an endpoint HubSpot no longer serves (410), and reports the connector unhealthy", async () => {
    const f = await fake();
    // The fake's server-error fault answers any status it is given (here 410 Gone).
    f.failNext(1, { type: "server-error", status: 410 });
    const { run, health } = init(f);
    await expect(run()).rejects.toThrow(
      /no longer serves GET \/communication-preferences\/2026-03\/definitions: HubSpot answered 410/,
    );
    expect(health.unhealthy).toHaveBeenCalledWith(expect.stringMatching(/^HubSpot removed an endpoint/));
    expect(f.requests).toHaveLength(1);
  });

  it("tries again after a 5xx", async () => {
    const f = await fake();
    f.failNext(1, { type: "server-error" });
    await expect(init(f).run()).resolves.toMatchObject(freshState);
    expect(f.requests.map((r) => r.status)).toEqual([500, 200]);
  });

  it("makes a new state for every instance, even of one config object: its own SDK client", async () => {
    const f = await fake();
    const { config, initCtx } = parts(f);
    const a = await start(config, initCtx);
    const b = await start(config, initCtx);
    expect(a).toMatchObject(freshState);
    expect(b.api).not.toBe(a.api);
    expect(b.propertyTrouble).not.toBe(a.propertyTrouble);
  });

  it("keeps each instance's property trouble in its own state, not per config object", async () => {
    const f = await fake({ contacts: ["a@example.com"] });
    const contacts = { c1: { email: "a@example.com", acceptsEmail: true, acceptsSms: true } };
    const first = await context(f, { smsProperty: "engage_accepts_sms" }, { contacts });
    // A second instance with the very same config object, as a gateway running two would have two.
    const health = { unhealthy: vi.fn(), healthy: vi.fn() };
    const { state: _, ...shared } = first.ctx;
    const second = { ...shared, health, state: await start(first.ctx.config, { ...shared, health }) };
    health.healthy.mockClear();

    f.deleteContactProperty("engage_accepts_sms");
    expect((await hubspot.deliver([item("c1", "Sms")], first.ctx))[0]).toMatchObject({
      status: "retry",
      delayMs: PROPERTY_RETRY_MS,
    });
    expect(first.ctx.state.propertyTrouble.has("engage_accepts_sms")).toBe(true);
    expect(second.state.propertyTrouble.size).toBe(0);

    // The first instance stays unhealthy while its SMS cannot be applied; the second one is fine.
    first.health.healthy.mockClear();
    expect(await hubspot.deliver([item("c1")], first.ctx)).toMatchObject([{ status: "delivered" }]);
    expect(first.health.healthy).not.toHaveBeenCalled();
    expect(await hubspot.deliver([item("c1")], second)).toMatchObject([{ status: "delivered" }]);
    expect(health.healthy).toHaveBeenCalled();
    expect(health.unhealthy).not.toHaveBeenCalled();
  });
});
