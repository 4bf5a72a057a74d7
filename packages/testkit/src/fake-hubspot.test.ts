import { afterEach, describe, expect, it } from "vitest";
import {
  FAKE_HUBSPOT_SUBSCRIPTION_ID,
  FAKE_HUBSPOT_TOKEN,
  type FakeBatchWriteAnswer,
  type FakeHubSpot,
  type FakeHubSpotOptions,
  maxInWindow,
  startFakeHubSpot,
} from "./fake-hubspot.ts";

const fakes: FakeHubSpot[] = [];
afterEach(async () => {
  for (const f of fakes.splice(0)) await f.close();
});

async function fake(options: FakeHubSpotOptions = {}) {
  const f = await startFakeHubSpot(options);
  fakes.push(f);
  return f;
}

const PREFS = "/communication-preferences/2026-03";

async function call(
  f: FakeHubSpot,
  method: string,
  path: string,
  body?: unknown,
  token = FAKE_HUBSPOT_TOKEN,
) {
  const res = await fetch(`${f.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

const input = (email: string, statusState = "SUBSCRIBED") => ({
  subscriberIdString: email,
  channel: "EMAIL",
  statusState,
  subscriptionId: Number(FAKE_HUBSPOT_SUBSCRIPTION_ID),
  legalBasis: "CONSENT_WITH_NOTICE",
  legalBasisExplanation: "test",
});

describe("fake HubSpot", () => {
  it("refuses a wrong or missing token like HubSpot", async () => {
    const f = await fake();
    const wrong = await call(f, "GET", `${PREFS}/definitions`, undefined, "nope");
    expect(wrong.status).toBe(401);
    expect(wrong.body).toMatchObject({ status: "error", category: "INVALID_AUTHENTICATION" });
    expect(wrong.body.correlationId).toMatch(/^[0-9a-f-]{36}$/);
    const none = await fetch(`${f.url}${PREFS}/definitions`);
    expect(none.status).toBe(401);
  });

  it("lists definitions and answers 404 for another API version", async () => {
    const f = await fake({ subscriptions: [{ id: "7", name: "Newsletter" }] });
    const defs = await call(f, "GET", `${PREFS}/definitions`);
    expect(defs.status).toBe(200);
    expect(defs.body.results).toEqual([
      expect.objectContaining({ id: "7", name: "Newsletter", isActive: true }),
    ]);
    expect((await call(f, "GET", "/communication-preferences/2024-01/definitions")).status).toBe(404);
  });

  it("writes and reads one status; the email in the path is decoded and matched case-insensitively", async () => {
    const f = await fake();
    const email = "Ann+news@Example.com";
    const { subscriberIdString: _, ...body } = input(email, "UNSUBSCRIBED");
    const written = await call(f, "POST", `${PREFS}/statuses/${encodeURIComponent(email)}`, body);
    expect(written.status).toBe(200);
    expect(written.body.results).toEqual([
      expect.objectContaining({
        subscriberIdString: email,
        subscriptionId: 123456,
        status: "UNSUBSCRIBED",
        setStatusSuccessReason: "REQUESTED_CHANGE_OCCURRED",
      }),
    ]);
    expect(f.status("ann+news@example.com")).toMatchObject({
      statusState: "UNSUBSCRIBED",
      legalBasis: "CONSENT_WITH_NOTICE",
      legalBasisExplanation: "test",
    });
    const again = await call(f, "POST", `${PREFS}/statuses/${encodeURIComponent(email)}`, body);
    expect(again.body.results[0].setStatusSuccessReason).toBe("NO_STATUS_CHANGE");
    const read = await call(f, "GET", `${PREFS}/statuses/${encodeURIComponent(email)}?channel=EMAIL`);
    expect(read.body.results[0]).toMatchObject({ status: "UNSUBSCRIBED" });
    expect((await call(f, "GET", `${PREFS}/statuses/${encodeURIComponent(email)}`)).status).toBe(400);
  });

  it("validates single writes: unknown subscription, bad legal basis, GDPR without basis", async () => {
    const f = await fake({ gdpr: true });
    const { subscriberIdString: _, ...body } = input("a@example.com");
    const unknown = await call(f, "POST", `${PREFS}/statuses/a%40example.com`, {
      ...body,
      subscriptionId: 1,
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body).toMatchObject({
      category: "VALIDATION_ERROR",
      message: expect.stringMatching(/1 does not exist/),
    });
    const basis = await call(f, "POST", `${PREFS}/statuses/a%40example.com`, {
      ...body,
      legalBasis: "BECAUSE",
    });
    expect(basis.status).toBe(400);
    const { legalBasis: _b, ...noBasis } = body;
    expect((await call(f, "POST", `${PREFS}/statuses/a%40example.com`, noBasis)).status).toBe(400);
    expect(f.status("a@example.com")).toBeUndefined();
  });

  it("batch-writes valid inputs and lists invalid ones in errors with a 207", async () => {
    const f = await fake();
    const ok = await call(f, "POST", `${PREFS}/statuses/batch/write`, {
      inputs: [input("a@example.com"), input("b@example.com", "UNSUBSCRIBED")],
    });
    expect(ok.status).toBe(200);
    expect(ok.body.results.map((r: { subscriberIdString: string }) => r.subscriberIdString)).toEqual([
      "a@example.com",
      "b@example.com",
    ]);
    const mixed = await call(f, "POST", `${PREFS}/statuses/batch/write`, {
      inputs: [input("c@example.com"), input("not-an-email")],
    });
    expect(mixed.status).toBe(207);
    expect(mixed.body).toMatchObject({
      numErrors: 1,
      errors: [{ category: "VALIDATION_ERROR", context: { subscriberIdString: ["not-an-email"] } }],
    });
    expect(mixed.body.results).toHaveLength(1);
    expect(f.status("c@example.com")?.statusState).toBe("SUBSCRIBED");
    const tooMany = await call(f, "POST", `${PREFS}/statuses/batch/write`, {
      inputs: Array.from({ length: 101 }, (_, i) => input(`x${i}@example.com`)),
    });
    expect(tooMany.status).toBe(400);
    const read = await call(f, "POST", `${PREFS}/statuses/batch/read?channel=EMAIL`, {
      inputs: ["a@example.com", "b@example.com"],
    });
    expect(read.body.results.map((r: { statuses: { status: string }[] }) => r.statuses[0]?.status)).toEqual([
      "SUBSCRIBED",
      "UNSUBSCRIBED",
    ]);
  });

  it("patches properties of known CRM contacts by email and answers 404 for others", async () => {
    const f = await fake({ contacts: ["known@example.com"] });
    const patched = await call(f, "PATCH", "/crm/v3/objects/contacts/known%40example.com?idProperty=email", {
      properties: { engage_accepts_sms: "true" },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({
      id: expect.any(String),
      properties: { engage_accepts_sms: "true" },
    });
    expect(f.contact("KNOWN@example.com")).toMatchObject({ engage_accepts_sms: "true" });
    const missing = await call(f, "PATCH", "/crm/v3/objects/contacts/who%40example.com?idProperty=email", {
      properties: { engage_accepts_sms: "true" },
    });
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ status: "error", category: "OBJECT_NOT_FOUND" });
    expect(f.contact("who@example.com")).toBeUndefined();
  });

  it("refuses a property the account does not have, or a value its type refuses, with HubSpot's 400, applying nothing", async () => {
    const f = await fake({
      contacts: ["known@example.com"],
      contactProperties: [
        { name: "engage_sms", type: "bool", fieldType: "booleancheckbox" },
        {
          name: "engage_postal",
          type: "enumeration",
          fieldType: "select",
          options: [
            { label: "Yes", value: "yes" },
            { label: "No", value: "no" },
          ],
        },
        { name: "engage_count", type: "number", fieldType: "number" },
      ],
    });
    const path = "/crm/v3/objects/contacts/known%40example.com?idProperty=email";
    const unknown = await call(f, "PATCH", path, { properties: { engage_sms: "true", nope: "true" } });
    expect(unknown.status).toBe(400);
    expect(unknown.body).toMatchObject({
      status: "error",
      category: "VALIDATION_ERROR",
      correlationId: expect.any(String),
      message: expect.stringMatching(/^Property values were not valid: \[/),
      errors: [{ code: "PROPERTY_DOESNT_EXIST", context: { propertyName: ["nope"] } }],
    });
    // The message carries the failed validations as JSON, as HubSpot's does.
    const listed = JSON.parse(unknown.body.message.slice("Property values were not valid: ".length));
    expect(listed).toEqual([
      expect.objectContaining({ isValid: false, error: "PROPERTY_DOESNT_EXIST", name: "nope" }),
    ]);
    expect(f.contact("known@example.com")?.engage_sms).toBeUndefined();

    const refused = await call(f, "PATCH", path, {
      properties: { engage_sms: "maybe", engage_postal: "true", engage_count: "false", hs_object_id: "1" },
    });
    expect(refused.status).toBe(400);
    expect(refused.body.errors.map((e: { code: string }) => e.code)).toEqual([
      "INVALID_OPTION",
      "INVALID_OPTION",
      "INVALID_LONG",
      "READ_ONLY_VALUE",
    ]);

    const ok = await call(f, "PATCH", path, { properties: { engage_sms: "false", engage_postal: "no" } });
    expect(ok.status).toBe(200);
    expect(f.contact("known@example.com")).toMatchObject({ engage_sms: "false", engage_postal: "no" });
    f.deleteContactProperty("engage_sms");
    expect((await call(f, "PATCH", path, { properties: { engage_sms: "true" } })).status).toBe(400);
    f.defineContactProperty({ name: "engage_sms", type: "string", fieldType: "text" });
    expect((await call(f, "PATCH", path, { properties: { engage_sms: "true" } })).status).toBe(200);
  });

  it("reads contact property definitions in the spec's shape, 404 for a property the account lacks", async () => {
    const f = await fake();
    const sms = await call(f, "GET", "/crm/v3/properties/contacts/engage_accepts_sms");
    expect(sms.status).toBe(200);
    expect(sms.body).toMatchObject({
      name: "engage_accepts_sms",
      type: "bool",
      fieldType: "booleancheckbox",
      groupName: expect.any(String),
      label: expect.any(String),
      description: expect.any(String),
      options: [
        { label: "Yes", value: "true", hidden: false },
        { label: "No", value: "false", hidden: false },
      ],
      modificationMetadata: { readOnlyValue: false },
    });
    const missing = await call(f, "GET", "/crm/v3/properties/contacts/engage_nope");
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({
      status: "error",
      category: "OBJECT_NOT_FOUND",
      correlationId: expect.any(String),
      message: expect.stringContaining("engage_nope"),
    });
    expect((await call(f, "GET", "/crm/v3/properties/contacts/hs_object_id")).body).toMatchObject({
      type: "number",
      hubspotDefined: true,
      modificationMetadata: { readOnlyValue: true },
    });
  });

  it("refuses a token without the scopes the spec names for the route, with 403 MISSING_SCOPES", async () => {
    const f = await fake({ scopes: ["communication_preferences.read"] });
    expect((await call(f, "GET", `${PREFS}/definitions`)).status).toBe(200);
    const batch = await call(f, "POST", `${PREFS}/statuses/batch/write`, {
      inputs: [input("a@example.com")],
    });
    expect(batch.status).toBe(403);
    expect(batch.body).toMatchObject({
      category: "MISSING_SCOPES",
      errors: [{ context: { missingScopes: ["communication_preferences.statuses.batch.write"] } }],
    });
    const props = await call(f, "GET", "/crm/v3/properties/contacts/engage_accepts_sms");
    expect(props.status).toBe(403);
    expect(props.body.errors[0].context.missingScopes).toContain("crm.schemas.contacts.read");
    expect(f.status("a@example.com")).toBeUndefined();
    expect(f.requests.filter((r) => r.counted)).toHaveLength(1);
    f.scopes.add("crm.objects.contacts.write");
    expect((await call(f, "GET", "/crm/v3/properties/contacts/engage_accepts_sms")).status).toBe(200);
  });

  it.each<[FakeBatchWriteAnswer, number, object]>([
    [{}, 207, { context: { subscriberIdString: ["not-an-email"] } }],
    [{ partialStatus: 200 }, 200, { context: { subscriberIdString: ["not-an-email"] } }],
    [{ errors: "id" }, 207, { id: "not-an-email" }],
    [{ errors: "message" }, 207, { message: expect.stringContaining("(subscriber not-an-email)") }],
    [
      { errors: "detail" },
      207,
      {
        context: {},
        errors: [expect.objectContaining({ context: { subscriberIdString: ["not-an-email"] } })],
      },
    ],
    [{ errors: "unattributed" }, 207, { context: {}, errors: [] }],
  ])("batch write reports a failed input as chosen: %j", async (batchWrite, status, named) => {
    const f = await fake({ batchWrite });
    const answer = await call(f, "POST", `${PREFS}/statuses/batch/write`, {
      inputs: [input("c@example.com"), input("not-an-email")],
    });
    expect(answer.status).toBe(status);
    expect(answer.body.results).toHaveLength(1);
    expect(answer.body.numErrors).toBe(1);
    expect(answer.body.errors).toEqual([
      expect.objectContaining({ status: "error", category: "VALIDATION_ERROR", links: {}, ...named }),
    ]);
    if (batchWrite.errors !== "message" && batchWrite.errors !== "id")
      expect(answer.body.errors[0].message).not.toContain("not-an-email");
    expect(f.status("c@example.com")?.statusState).toBe("SUBSCRIBED");
  });

  it("batch write can leave a failed input out without any error", async () => {
    const f = await fake({ batchWrite: { errors: "omitted", partialStatus: 200 } });
    const answer = await call(f, "POST", `${PREFS}/statuses/batch/write`, {
      inputs: [input("c@example.com"), input("not-an-email")],
    });
    expect(answer.status).toBe(200);
    expect(answer.body.errors).toBeUndefined();
    expect(answer.body.results.map((r: { subscriberIdString: string }) => r.subscriberIdString)).toEqual([
      "c@example.com",
    ]);
  });

  it("enforces a rolling window with HubSpot's 429 body and headers", async () => {
    const f = await fake({ rateLimit: { max: 3, intervalMs: 400 } });
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await call(f, "GET", `${PREFS}/definitions`));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 429]);
    expect(answers[0]?.headers.get("x-hubspot-ratelimit-remaining")).toBe("2");
    const limited = answers[3];
    expect(limited?.body).toMatchObject({
      status: "error",
      errorType: "RATE_LIMIT",
      policyName: "TEN_SECONDLY_ROLLING",
      message: expect.any(String),
      correlationId: expect.any(String),
      groupName: expect.any(String),
    });
    expect(limited?.headers.get("x-hubspot-ratelimit-max")).toBe("3");
    expect(limited?.headers.get("x-hubspot-ratelimit-remaining")).toBe("0");
    expect(limited?.headers.get("x-hubspot-ratelimit-interval-milliseconds")).toBe("400");
    // Rolling: a place frees up when the oldest request leaves the window.
    await new Promise((r) => setTimeout(r, 420));
    expect((await call(f, "GET", `${PREFS}/definitions`)).status).toBe(200);
    expect(f.requests.filter((r) => r.counted)).toHaveLength(4);
    expect(f.maxRequestsInWindow()).toBe(4);
  });

  it("answers injected faults in order, applying nothing", async () => {
    const f = await fake({ contacts: ["a@example.com"] });
    f.failNext(1, { type: "server-error", status: 503 });
    f.failNext(1, { type: "unauthorized" });
    f.failNext(1, { type: "forbidden" });
    f.failNext(1, { type: "validation", message: "Property values were not valid" });
    f.failNext(1, { type: "daily-limit" });
    f.failNext(1, { type: "errors-in-2xx" });
    f.failNext(1, { type: "empty-results" });
    f.failNext(1, { type: "empty-results" });
    const batch = { inputs: [input("a@example.com")] };
    const path = `${PREFS}/statuses/batch/write`;
    const got = [];
    for (let i = 0; i < 7; i++) got.push(await call(f, "POST", path, batch));
    expect(got.map((g) => g.status)).toEqual([503, 401, 403, 400, 429, 207, 200]);
    expect(got[3]?.body).toMatchObject({
      category: "VALIDATION_ERROR",
      message: "Property values were not valid",
    });
    expect(got[3]?.body.correlationId).toEqual(expect.any(String));
    expect(got[4]?.body).toMatchObject({ errorType: "RATE_LIMIT", policyName: "DAILY" });
    expect(got[5]?.body).toMatchObject({
      results: [],
      errors: [{ context: { subscriberIdString: ["a@example.com"] } }],
    });
    expect(got[6]?.body).toMatchObject({ status: "COMPLETE", results: [] });
    const crm = await call(f, "PATCH", "/crm/v3/objects/contacts/a%40example.com?idProperty=email", {
      properties: { p: "true" },
    });
    expect(crm).toMatchObject({ status: 200, body: {} });
    expect(f.status("a@example.com")).toBeUndefined();
    expect(f.contact("a@example.com")?.p).toBeUndefined();

    f.failNext(1, { type: "network" });
    await expect(call(f, "POST", path, batch)).rejects.toThrow();
    expect((await call(f, "POST", path, batch)).status).toBe(200);
    expect(f.status("a@example.com")?.statusState).toBe("SUBSCRIBED");
  });
});

describe("maxInWindow", () => {
  it("counts the most timestamps within any half-open window", () => {
    expect(maxInWindow([], 1000)).toBe(0);
    expect(maxInWindow([0, 999, 1000, 1500, 1999], 1000)).toBe(3);
    expect(maxInWindow([5, 1, 3], 10)).toBe(3);
  });
});
