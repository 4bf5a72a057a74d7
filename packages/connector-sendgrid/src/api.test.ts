import { type FakeSendGrid, type FakeSendGridUnknownGroup, startFakeSendGrid } from "@engage-bridge/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { SendGridApi, SendGridError, sendgridMessage } from "./api.ts";

/**
 * The SDK against the fake SendGrid: the requests the connector relies on, and the fake's answers
 * (paths, statuses, error bodies, rate-limit headers) that the connector maps.
 */

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function fake(options: Parameters<typeof startFakeSendGrid>[0] = {}): Promise<FakeSendGrid> {
  const f = await startFakeSendGrid(options);
  cleanups.push(() => f.close());
  return f;
}

const signal = () => AbortSignal.timeout(10_000);

async function failure(promise: Promise<unknown>): Promise<SendGridError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SendGridError);
  return error as SendGridError;
}

describe("SendGridApi against the fake", () => {
  it("adds many addresses in one POST and removes them one DELETE each (global list)", async () => {
    const sg = await fake();
    const api = new SendGridApi({ apiKey: sg.apiKey, baseUrl: sg.url, groupId: undefined });
    const answer = await api.addSuppressions(["a@example.com", "b@example.com", "c@example.com"], signal());
    expect(answer).toEqual({
      status: 201,
      waitMs: 0,
      echoed: new Set(["a@example.com", "b@example.com", "c@example.com"]),
    });
    expect([...sg.globalSuppressions].sort()).toEqual(["a@example.com", "b@example.com", "c@example.com"]);

    expect(await api.removeSuppression("b@example.com", signal())).toEqual({ status: 204, waitMs: 0 });
    // Not listed: still 204.
    expect((await api.removeSuppression("nobody@example.com", signal())).status).toBe(204);
    expect([...sg.globalSuppressions].sort()).toEqual(["a@example.com", "c@example.com"]);
    expect(sg.requests.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
      "POST /v3/asm/suppressions/global 201",
      "DELETE /v3/asm/suppressions/global/b%40example.com 204",
      "DELETE /v3/asm/suppressions/global/nobody%40example.com 204",
    ]);
  });

  it("works on a group when groupId is set; the fake puts an unknown group's addresses on the global list", async () => {
    const sg = await fake({ groups: [4242] });
    const group = new SendGridApi({ apiKey: sg.apiKey, baseUrl: sg.url, groupId: 4242 });
    expect(await group.groupExists(signal())).toEqual({ exists: true, waitMs: 0 });
    await group.addSuppressions(["a@example.com"], signal());
    expect([...sg.groupList(4242)]).toEqual(["a@example.com"]);
    expect(sg.globalSuppressions.size).toBe(0);
    await group.removeSuppression("a@example.com", signal());
    expect(sg.groupList(4242).size).toBe(0);

    const unknown = new SendGridApi({ apiKey: sg.apiKey, baseUrl: sg.url, groupId: 7 });
    expect(await unknown.groupExists(signal())).toEqual({
      exists: false,
      waitMs: 0,
      status: 404,
      answer: "404: Group not found",
    });
    await unknown.addSuppressions(["b@example.com"], signal());
    expect(sg.requests.at(-1)?.status).toBe(201);
    expect([...sg.globalSuppressions]).toEqual(["b@example.com"]);
    expect(sg.groupSuppressions.get(7)).toBeUndefined();
  });

  it("groupExists: only a 200 naming the group's id confirms it, under every answer an unknown group may get", async () => {
    const expected: Record<FakeSendGridUnknownGroup, { status: number; answer: string }> = {
      "not-found": { status: 404, answer: "404: Group not found" },
      "bad-request": { status: 400, answer: "400: group 7 is not a valid group id (group_id)" },
      empty: { status: 200, answer: "200 without the group's id" },
      "other-group": { status: 200, answer: "200 naming another group (id 0)" },
      list: { status: 200, answer: "200 without the group's id" },
    };
    const sg = await fake({ groups: [4242] });
    for (const [unknownGroup, answer] of Object.entries(expected)) {
      sg.unknownGroup = unknownGroup as FakeSendGridUnknownGroup;
      const unknown = new SendGridApi({ apiKey: sg.apiKey, baseUrl: sg.url, groupId: 7 });
      expect(await unknown.groupExists(signal())).toEqual({ exists: false, waitMs: 0, ...answer });
      const known = new SendGridApi({ apiKey: sg.apiKey, baseUrl: sg.url, groupId: 4242 });
      expect(await known.groupExists(signal())).toEqual({ exists: true, waitMs: 0 });
    }
    // Whatever the status, a body without the group's id never confirms it; a refused key still throws.
    const group = new SendGridApi({ apiKey: sg.apiKey, baseUrl: sg.url, groupId: 4242 });
    sg.failNext(1, { status: 200, body: { id: "4243", name: "x" } });
    expect(await group.groupExists(signal())).toMatchObject({
      exists: false,
      answer: "200 naming another group (id 4243)",
    });
    sg.failNext(1, { status: 200, body: "" });
    expect(await group.groupExists(signal())).toMatchObject({
      exists: false,
      answer: "200 without the group's id",
    });
    sg.failNext(1, { status: 200, body: { id: "4242" } });
    expect(await group.groupExists(signal())).toEqual({ exists: true, waitMs: 0 });
    sg.failNext(1, { status: 403 });
    expect(await failure(group.groupExists(signal()))).toMatchObject({ kind: "unauthorized", status: 403 });
  });

  it("addSuppressions names what the 201 echoed (lower-cased), under every answer to a malformed address", async () => {
    const sent = ["a@example.com", "user@localhost", "B@Example.com"];
    const sg = await fake({ invalidAddress: "omit" });
    const api = new SendGridApi({ apiKey: sg.apiKey, baseUrl: sg.url, groupId: undefined });
    expect((await api.addSuppressions(sent, signal())).echoed).toEqual(
      new Set(["a@example.com", "b@example.com"]),
    );
    sg.invalidAddress = "omit-all";
    expect((await api.addSuppressions(sent, signal())).echoed).toEqual(new Set());
    sg.invalidAddress = "reject";
    expect(await failure(api.addSuppressions(sent, signal()))).toMatchObject({
      kind: "rejected",
      status: 400,
    });
    // A 201 without the list says nothing about any address.
    sg.failNext(1, { status: 201, body: "" });
    expect((await api.addSuppressions(["a@example.com"], signal())).echoed).toBeUndefined();
    sg.failNext(1, { status: 201, body: { recipient_emails: ["A@EXAMPLE.COM", 7] } });
    expect((await api.addSuppressions(["a@example.com"], signal())).echoed).toEqual(
      new Set(["a@example.com"]),
    );
  });

  it("lookUp: the global list one address per GET, a group many per search; an answer saying neither is transient", async () => {
    const sg = await fake({ groups: [4242] });
    sg.globalSuppressions.add("a@example.com");
    sg.groupList(4242).add("g@example.com");
    const global = new SendGridApi({ apiKey: sg.apiKey, baseUrl: sg.url, groupId: undefined });
    expect(global.lookUpMany).toBe(false);
    expect((await global.lookUp(["A@example.com"], signal())).listed).toEqual(new Set(["a@example.com"]));
    expect((await global.lookUp(["b@example.com"], signal())).listed).toEqual(new Set());
    await expect(global.lookUp(["a@example.com", "b@example.com"], signal())).rejects.toBeInstanceOf(
      RangeError,
    );
    sg.failNext(1, { status: 200, body: { recipient_email: "other@example.com" } });
    expect(await failure(global.lookUp(["a@example.com"], signal()))).toMatchObject({
      kind: "transient",
      status: 200,
      message: "SendGrid answered 200 without saying whether the address is suppressed",
    });

    const group = new SendGridApi({ apiKey: sg.apiKey, baseUrl: sg.url, groupId: 4242 });
    expect(group.lookUpMany).toBe(true);
    expect((await group.lookUp(["a@example.com", "G@example.com"], signal())).listed).toEqual(
      new Set(["g@example.com"]),
    );
    sg.failNext(1, { status: 200, body: {} });
    expect((await failure(group.lookUp(["g@example.com"], signal()))).kind).toBe("transient");
    expect(sg.requests.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
      "GET /v3/asm/suppressions/global/A%40example.com 200",
      "GET /v3/asm/suppressions/global/b%40example.com 200",
      "GET /v3/asm/suppressions/global/a%40example.com 200",
      "POST /v3/asm/groups/4242/suppressions/search 200",
      "POST /v3/asm/groups/4242/suppressions/search 200",
    ]);
  });

  it("encodes the address in DELETE paths (characters that would otherwise cut or break the path)", async () => {
    const sg = await fake();
    const api = new SendGridApi({ apiKey: sg.apiKey, baseUrl: sg.url, groupId: undefined });
    const odd = [
      "o'neil+news#1@example.com",
      "100%real@example.com",
      "what?ever@example.com",
      "a/b@example.com",
    ];
    await api.addSuppressions(odd, signal());
    expect(sg.globalSuppressions.size).toBe(4);
    for (const email of odd) await api.removeSuppression(email, signal());
    expect(sg.requests.slice(1).map((r) => r.status)).toEqual([204, 204, 204, 204]);
    expect(sg.requests.slice(1).map((r) => r.emails[0])).toEqual(odd);
    expect(sg.globalSuppressions.size).toBe(0);
  });

  it("sends the key as a bearer token; a wrong key answers SendGrid's 401 body", async () => {
    const sg = await fake();
    const api = new SendGridApi({ apiKey: "SG.wrong", baseUrl: sg.url, groupId: undefined });
    const error = await failure(api.addSuppressions(["a@example.com"], signal()));
    expect(error).toMatchObject({ kind: "unauthorized", status: 401 });
    expect(error.message).toBe(
      "SendGrid refused the API key (401): The provided authorization grant is invalid, expired, or revoked",
    );
    expect(error.message).not.toContain("SG.wrong");
    expect(sg.globalSuppressions.size).toBe(0);

    const raw = await fetch(`${sg.url}/v3/asm/suppressions/global`, { method: "POST", body: "{}" });
    expect(raw.status).toBe(401);
    expect(await raw.json()).toEqual({ errors: [{ field: null, message: "authorization required" }] });
  });

  it("answers rate-limit headers; over the limit a 429 with SendGrid's body, waited out until the reset", async () => {
    const sg = await fake({ rateLimit: { limit: 2, windowMs: 5_000 } });
    const api = new SendGridApi({ apiKey: sg.apiKey, baseUrl: sg.url, groupId: undefined });
    expect((await api.removeSuppression("a@example.com", signal())).waitMs).toBe(0);
    const last = await api.removeSuppression("b@example.com", signal());
    // The window is used up: wait until its reset (epoch seconds, rounded up).
    expect(last.waitMs).toBeGreaterThan(3_000);
    expect(last.waitMs).toBeLessThanOrEqual(6_000);
    const error = await failure(api.removeSuppression("c@example.com", signal()));
    expect(error).toMatchObject({ kind: "rate-limited", status: 429, detail: "too many requests" });
    expect(error.waitMs).toBeGreaterThan(3_000);
    // Each endpoint has its own window.
    expect((await api.addSuppressions(["d@example.com"], signal())).status).toBe(201);
    const [first, second, third] = sg.requests;
    expect(first?.rateLimitRemaining).toBe(1);
    expect(second?.rateLimitRemaining).toBe(0);
    expect(third).toMatchObject({ status: 429, rateLimitRemaining: 0 });
    expect(third?.rateLimitReset).toBeGreaterThan(1e9);

    const raw = await fetch(`${sg.url}/v3/asm/suppressions/global/e%40example.com`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${sg.apiKey}` },
    });
    expect(raw.status).toBe(429);
    expect(raw.headers.get("x-ratelimit-limit")).toBe("2");
    expect(raw.headers.get("x-ratelimit-remaining")).toBe("0");
    expect(await raw.json()).toEqual({ errors: [{ field: null, message: "too many requests" }] });
  });

  it("writes Reset as seconds-until when asked to, and reads both", async () => {
    const sg = await fake({ rateLimit: { limit: 1, windowMs: 4_000 }, resetStyle: "seconds" });
    const api = new SendGridApi({ apiKey: sg.apiKey, baseUrl: sg.url, groupId: undefined });
    const answer = await api.removeSuppression("a@example.com", signal());
    expect(sg.requests[0]?.rateLimitReset).toBe(4);
    expect(answer.waitMs).toBe(4_000);
    sg.failNext(1, { status: 429, resetSeconds: 3, resetStyle: "epoch" });
    const error = await failure(api.removeSuppression("a@example.com", signal()));
    expect(sg.requests[1]?.rateLimitReset).toBeGreaterThan(1e9);
    expect(error.waitMs).toBeGreaterThan(2_000);
    expect(error.waitMs).toBeLessThanOrEqual(4_000);
  });

  it("maps injected faults: 5xx transient, 403/410 unauthorized, 400 rejected with SendGrid's message (addresses masked)", async () => {
    const sg = await fake();
    const api = new SendGridApi({ apiKey: sg.apiKey, baseUrl: sg.url, groupId: undefined });
    sg.failNext(1, { status: 503 });
    expect(await failure(api.addSuppressions(["a@example.com"], signal()))).toMatchObject({
      kind: "transient",
      status: 503,
      message: "SendGrid answered 503: service unavailable",
    });
    sg.failNext(1, { status: 403 });
    expect(await failure(api.addSuppressions(["a@example.com"], signal()))).toMatchObject({
      kind: "unauthorized",
      message: "SendGrid refused the API key (403): access forbidden",
    });
    sg.failNext(1, { status: 400, message: "x@example.com is not allowed", field: "recipient_emails" });
    expect(await failure(api.addSuppressions(["x@example.com"], signal()))).toMatchObject({
      kind: "rejected",
      status: 400,
      message: "SendGrid rejected the request (400): <email> is not allowed (recipient_emails)",
    });
    // Core's verdict for what SendGrid has no rule of its own: 410 (the endpoint is gone) needs an
    // operator like a refused key; 408 and 425 may pass; a Retry-After on them is kept.
    sg.failNext(1, { status: 410, message: "gone" });
    expect(await failure(api.addSuppressions(["a@example.com"], signal()))).toMatchObject({
      kind: "unauthorized",
      status: 410,
      message: "SendGrid answered 410 (the endpoint is gone): gone",
    });
    for (const status of [408, 425]) {
      sg.failNext(1, { status });
      expect(await failure(api.addSuppressions(["a@example.com"], signal()))).toMatchObject({
        kind: "transient",
        status,
        retryAfterMs: undefined,
      });
    }
    sg.failNext(1, { status: 503, headers: { "Retry-After": "12" } });
    expect(await failure(api.addSuppressions(["a@example.com"], signal()))).toMatchObject({
      kind: "transient",
      retryAfterMs: 12_000,
      waitMs: 0,
    });
    // A 429 carrying Retry-After as well as SendGrid's reset waits for the later of the two.
    sg.failNext(1, { status: 429, resetSeconds: 2, resetStyle: "seconds", headers: { "Retry-After": "5" } });
    expect(await failure(api.addSuppressions(["a@example.com"], signal()))).toMatchObject({
      kind: "rate-limited",
      waitMs: 5_000,
    });
    // A fault for DELETE only leaves a POST alone.
    sg.failNext(1, { status: 500, method: "DELETE" });
    expect((await api.addSuppressions(["a@example.com"], signal())).status).toBe(201);
    expect((await failure(api.removeSuppression("a@example.com", signal()))).status).toBe(500);
    // The fake's own validation answers 400 naming the address; the connector never shows it.
    const invalid = await failure(api.addSuppressions(["ok@example.com", "user@localhost"], signal()));
    expect(invalid.message).toBe(
      "SendGrid rejected the request (400): <email> is not a valid email address (recipient_emails)",
    );
    expect(sg.globalSuppressions.has("ok@example.com")).toBe(false);
  });

  it("reports a network error as transient, and an abort as the abort", async () => {
    const sg = await fake();
    const url = sg.url;
    await sg.close();
    const api = new SendGridApi({ apiKey: "SG.key", baseUrl: url, groupId: undefined });
    const error = await failure(api.addSuppressions(["a@example.com"], signal()));
    expect(error).toMatchObject({ kind: "transient", status: 0 });
    expect(error.message).toMatch(/^SendGrid unreachable \(network error( [A-Z_]+)?\)$/);

    const slow = await fake({ latencyMs: 2_000 });
    const slowApi = new SendGridApi({ apiKey: slow.apiKey, baseUrl: slow.url, groupId: undefined });
    const controller = new AbortController();
    const pending = slowApi.addSuppressions(["a@example.com"], controller.signal);
    setTimeout(() => controller.abort(new Error("shutting down")), 50);
    await expect(pending).rejects.toThrow("shutting down");
  });
});

describe("SendGrid error text", () => {
  it("joins SendGrid's messages, masks addresses, bounds the length", () => {
    expect(
      sendgridMessage({
        errors: [
          { field: null, message: "first" },
          { field: "recipient_emails", message: "Jane.Doe+x@Example.COM is invalid" },
        ],
      }),
    ).toBe("first; <email> is invalid (recipient_emails)");
    expect(sendgridMessage('{"errors":[{"message":"too many requests","field":null}]}')).toBe(
      "too many requests",
    );
    expect(sendgridMessage("<html>bad gateway</html>")).toBe("");
    expect(sendgridMessage(undefined)).toBe("");
    expect(sendgridMessage({ errors: [{ message: "x".repeat(1000) }] }).length).toBe(300);
  });
});
