import { setTimeout as sleep } from "node:timers/promises";
import { type FakeEngageApi, startFakeEngageApi } from "@engage-bridge/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createEngageClient, type EngageClientOptions, parseRetryAfter } from "./client.ts";
import { EngageApiError } from "./errors.ts";
import { burstCapacity } from "./token-bucket.ts";
import { VERSION } from "./version.ts";

const CONTACT_ID = "3f9c2a1e-private-contact";
const EMAIL = "jane.private@example.com";

let api: FakeEngageApi;
beforeEach(async () => {
  api = await startFakeEngageApi();
});
afterEach(async () => {
  await api.close();
});

function client(options: Partial<EngageClientOptions> = {}) {
  return createEngageClient({
    baseUrl: api.url,
    apiKey: api.apiKey,
    retry: { delaysMs: [10, 10, 10] },
    ...options,
  });
}

function statuses(): number[] {
  return api.requests.map((r) => r.status);
}

async function rejection(promise: Promise<unknown>): Promise<EngageApiError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof EngageApiError) return error;
    throw error;
  }
  throw new Error("expected the lookup to fail");
}

describe("getContact", () => {
  it("maps a contact", async () => {
    api.setContact(CONTACT_ID, {
      email: EMAIL,
      mobilePhone: "+46701234567",
      acceptsEmail: true,
      acceptsSms: false,
    });
    const contact = await client().getContact(CONTACT_ID);
    expect(contact).toEqual({
      id: CONTACT_ID,
      email: EMAIL,
      mobilePhone: "+46701234567",
      preferences: { acceptsEmail: true, acceptsSms: false, acceptsPostal: undefined },
      raw: {
        id: CONTACT_ID,
        contactType: "Member",
        attributes: { email: EMAIL, mobilePhone: "+46701234567" },
        preferences: { acceptsEmail: true, acceptsSms: false, acceptsPostal: null },
      },
    });
    expect(api.requests).toMatchObject([{ path: `/api/v3/contacts/${CONTACT_ID}`, status: 200 }]);
  });

  it("answers undefined for an unknown contact and caches that briefly", async () => {
    const engage = client({ cacheTtlMs: 100 });
    expect(await engage.getContact(CONTACT_ID)).toBeUndefined();
    api.setContact(CONTACT_ID, { email: EMAIL });
    expect(await engage.getContact(CONTACT_ID)).toBeUndefined();
    expect(engage.stats).toMatchObject({ requests: 1, cacheHits: 1 });
    await sleep(150);
    expect((await engage.getContact(CONTACT_ID))?.email).toBe(EMAIL);
    expect(statuses()).toEqual([404, 200]);
  });

  it("shares one request among 50 concurrent calls for the same contact", async () => {
    api.setContact(CONTACT_ID, { email: EMAIL, acceptsSms: true });
    api.latencyMs = 50;
    const engage = client();
    const contacts = await Promise.all(Array.from({ length: 50 }, () => engage.getContact(CONTACT_ID)));
    expect(api.requests).toHaveLength(1);
    expect(contacts).toHaveLength(50);
    for (const contact of contacts) {
      expect(contact).toMatchObject({ id: CONTACT_ID, email: EMAIL, preferences: { acceptsSms: true } });
    }
    expect(engage.stats).toEqual({ requests: 1, cacheHits: 0, coalesced: 49, retries: 0 });
  });

  it("answers a second call from the cache, with a copy the caller may change", async () => {
    api.setContact(CONTACT_ID, { email: EMAIL, acceptsEmail: true });
    const engage = client();
    const first = await engage.getContact(CONTACT_ID);
    if (first) first.preferences.acceptsEmail = false;
    const second = await engage.getContact(CONTACT_ID);
    expect(second?.preferences.acceptsEmail).toBe(true);
    expect(api.requests).toHaveLength(1);
    expect(engage.stats).toMatchObject({ requests: 1, cacheHits: 1 });
  });

  it("does not answer from a cache entry filled before freshAfter", async () => {
    api.setContact(CONTACT_ID, { email: EMAIL, acceptsEmail: true });
    const engage = client();
    const before = new Date(Date.now() - 60_000);
    await engage.getContact(CONTACT_ID);
    api.setContact(CONTACT_ID, { email: EMAIL, acceptsEmail: false });
    await sleep(5);
    const receivedAt = new Date();
    // An older event may still use the cache.
    expect((await engage.getContact(CONTACT_ID, { freshAfter: before }))?.preferences.acceptsEmail).toBe(
      true,
    );
    expect((await engage.getContact(CONTACT_ID, { freshAfter: receivedAt }))?.preferences.acceptsEmail).toBe(
      false,
    );
    expect(api.requests).toHaveLength(2);
    // The fresh answer replaced the old one in the cache.
    expect((await engage.getContact(CONTACT_ID))?.preferences.acceptsEmail).toBe(false);
    expect(api.requests).toHaveLength(2);
  });

  it("does not join a request that was already in flight before freshAfter", async () => {
    api.setContact(CONTACT_ID, { acceptsSms: true });
    api.latencyMs = 100;
    const engage = client();
    const older = engage.getContact(CONTACT_ID);
    await sleep(20);
    const receivedAt = new Date();
    const fresh = engage.getContact(CONTACT_ID, { freshAfter: receivedAt });
    const joined = engage.getContact(CONTACT_ID, { freshAfter: receivedAt });
    await Promise.all([older, fresh, joined]);
    expect(api.requests).toHaveLength(2);
    expect(engage.stats).toMatchObject({ requests: 2, coalesced: 1 });
  });

  it("waits at least Retry-After before retrying a 429", { timeout: 10_000 }, async () => {
    api.setContact(CONTACT_ID, { email: EMAIL });
    api.failNext(1, 429, { "Retry-After": "1" });
    const engage = client({ retry: { delaysMs: [10] } });
    expect((await engage.getContact(CONTACT_ID))?.email).toBe(EMAIL);
    expect(statuses()).toEqual([429, 200]);
    const [first, second] = api.requests;
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(1000);
    expect(engage.stats).toMatchObject({ requests: 2, retries: 1 });
  });

  it("retries 503 twice, then answers", async () => {
    api.setContact(CONTACT_ID, { email: EMAIL });
    api.failNext(2, 503);
    const engage = client({ retry: { delaysMs: [20, 20] } });
    expect((await engage.getContact(CONTACT_ID))?.email).toBe(EMAIL);
    expect(statuses()).toEqual([503, 503, 200]);
    const [a, b, c] = api.requests.map((r) => r.at);
    expect((b ?? 0) - (a ?? 0)).toBeGreaterThanOrEqual(20);
    expect((c ?? 0) - (b ?? 0)).toBeGreaterThanOrEqual(20);
    expect(engage.stats).toMatchObject({ requests: 3, retries: 2 });
  });

  it("throws a retryable error once the retry delays are used up", async () => {
    api.failNext(4, 503, { "Retry-After": "0" });
    const error = await rejection(client({ retry: { delaysMs: [5, 5] } }).getContact(CONTACT_ID));
    expect(error).toMatchObject({
      name: "EngageApiError",
      status: 503,
      retryable: true,
      retryAfterMs: 0,
      attempts: 3,
      message: "contact lookup failed (status 503)",
    });
    expect(api.requests).toHaveLength(3);
  });

  it("throws a non-retryable error at once for a rejected API key", async () => {
    api.setContact(CONTACT_ID, { email: EMAIL });
    const engage = client({ apiKey: "wrong-key", retry: { delaysMs: [10, 10, 10] } });
    const error = await rejection(engage.getContact(CONTACT_ID));
    expect(error).toMatchObject({ status: 401, retryable: false, attempts: 1 });
    expect(statuses()).toEqual([401]);
  });

  it("does not retry a 400 or a 403", async () => {
    api.failNext(1, 400);
    api.failNext(1, 403);
    const engage = client();
    expect(await rejection(engage.getContact(CONTACT_ID))).toMatchObject({ status: 400, retryable: false });
    expect(await rejection(engage.getContact(CONTACT_ID))).toMatchObject({ status: 403, retryable: false });
    expect(statuses()).toEqual([400, 403]);
  });

  it("treats a slow answer as a retryable timeout", async () => {
    api.latencyMs = 300;
    const error = await rejection(client({ timeoutMs: 50, retry: { delaysMs: [] } }).getContact(CONTACT_ID));
    expect(error).toMatchObject({
      status: 0,
      retryable: true,
      message: "contact lookup failed (timeout after 50 ms)",
    });
  });

  it("treats a refused connection as a retryable network error", async () => {
    const url = api.url;
    await api.close();
    const engage = createEngageClient({ baseUrl: url, apiKey: "k", retry: { delaysMs: [5] } });
    const error = await rejection(engage.getContact(CONTACT_ID));
    expect(error).toMatchObject({ status: 0, retryable: true, attempts: 2 });
    expect(error.message).toMatch(/^contact lookup failed \(network error/);
  });

  it("keeps a request going for the callers that did not abandon it", async () => {
    api.setContact(CONTACT_ID, { email: EMAIL });
    api.latencyMs = 100;
    const engage = client();
    const controller = new AbortController();
    const abandoned = engage.getContact(CONTACT_ID, { signal: controller.signal });
    const kept = engage.getContact(CONTACT_ID);
    controller.abort(new Error("gave up"));
    await expect(abandoned).rejects.toThrow("gave up");
    expect((await kept)?.email).toBe(EMAIL);
    expect(api.requests).toHaveLength(1);
  });

  it("stops retrying when every caller abandoned the lookup", async () => {
    api.failNext(10, 503);
    const engage = client({ retry: { delaysMs: [200, 200, 200] } });
    const abandoned = engage.getContact(CONTACT_ID, { signal: AbortSignal.timeout(100) });
    await expect(abandoned).rejects.toMatchObject({ name: "TimeoutError" });
    await sleep(400);
    expect(api.requests).toHaveLength(1);
  });

  it("sends Engage's headers and encodes the contact id", async () => {
    const seen: { url: string; init: RequestInit | undefined }[] = [];
    const engage = createEngageClient({
      baseUrl: "https://tenant.staging.voyado.com/",
      apiKey: "key-123",
      fetch: async (input, init) => {
        seen.push({ url: String(input), init });
        return new Response(JSON.stringify({ id: "a/b c" }), { status: 200 });
      },
    });
    expect((await engage.lookup("a/b c"))?.id).toBe("a/b c");
    expect(seen).toHaveLength(1);
    expect(seen[0]?.url).toBe("https://tenant.staging.voyado.com/api/v3/contacts/a%2Fb%20c");
    expect(seen[0]?.init).toMatchObject({
      method: "GET",
      redirect: "manual",
      headers: {
        apikey: "key-123",
        "User-Agent": `engage-bridge/${VERSION}`,
        "Content-Type": "application/json",
        Accept: "application/json",
      },
    });
  });

  it("passes the fake's header checks (User-Agent and Content-Type are required)", async () => {
    api.setContact(CONTACT_ID, {});
    const engage = client({ userAgent: "my-system/2.0" });
    expect(await engage.getContact(CONTACT_ID)).toMatchObject({ id: CONTACT_ID, email: undefined });
  });

  it("rejects bad options without echoing the API key", () => {
    expect(() => createEngageClient({ baseUrl: "not a url", apiKey: "k" })).toThrow(TypeError);
    expect(() => createEngageClient({ baseUrl: "ftp://x", apiKey: "k" })).toThrow(TypeError);
    expect(() => createEngageClient({ baseUrl: api.url, apiKey: "" })).toThrow(TypeError);
    expect(() => createEngageClient({ baseUrl: api.url, apiKey: "secret\nkey" })).toThrow(
      /^apiKey must be a non-empty string/,
    );
    expect(() =>
      createEngageClient({ baseUrl: api.url, apiKey: "k", rateLimit: { requests: 0, perSeconds: 1 } }),
    ).toThrow(TypeError);
    expect(() => createEngageClient({ baseUrl: api.url, apiKey: "k", retry: { delaysMs: [-1] } })).toThrow(
      TypeError,
    );
  });

  it("rejects an empty contact id", async () => {
    await expect(client().getContact("")).rejects.toThrow(TypeError);
    expect(api.requests).toHaveLength(0);
  });
});

describe("rate limit", () => {
  it("never sends more than the limit (plus the bucket's burst) in any window", {
    timeout: 20_000,
  }, async () => {
    const ids = Array.from({ length: 120 }, (_, i) => `contact-${i}`);
    for (const id of ids) api.setContact(id, { email: `${id}@example.com` });
    // Send times are taken where the client sends, not where the fake (in this same, busy process)
    // gets round to reading: a loaded CI machine delivers paced requests to the server in clumps.
    const sent: number[] = [];
    const engage = client({
      rateLimit: { requests: 40, perSeconds: 1 },
      fetch: (input, init) => {
        sent.push(performance.now());
        return fetch(input, init);
      },
    });
    const contacts = await Promise.all(ids.map((id) => engage.getContact(id)));
    expect(contacts.map((c) => c?.id)).toEqual(ids);
    expect(api.requests).toHaveLength(120);
    const times = sent.sort((a, b) => a - b);
    let busiest = 0;
    for (let i = 0; i < times.length; i++) {
      const start = times[i] ?? 0;
      let count = 0;
      for (let j = i; j < times.length && (times[j] ?? 0) < start + 1000; j++) count++;
      busiest = Math.max(busiest, count);
    }
    expect(busiest).toBeLessThanOrEqual(40 + burstCapacity(40));
    // The limit was the only brake: 120 requests needed about three windows, not much more.
    expect((times.at(-1) ?? 0) - (times[0] ?? 0)).toBeGreaterThanOrEqual(2000);
  });
});

describe("error messages", () => {
  it("never contain the API key, the contact id or an e-mail address", { timeout: 10_000 }, async () => {
    const apiKey = "very-secret-api-key-42";
    await api.close();
    api = await startFakeEngageApi({ apiKey });
    api.setContact(CONTACT_ID, { email: EMAIL });
    const errors: EngageApiError[] = [];
    const make = (options: Partial<EngageClientOptions>) => client({ apiKey, ...options });

    errors.push(await rejection(make({ apiKey: `${apiKey}-wrong` }).getContact(CONTACT_ID)));
    api.failNext(3, 503);
    errors.push(await rejection(make({ retry: { delaysMs: [1, 1] } }).getContact(CONTACT_ID)));
    api.failNext(1, 429, { "Retry-After": "0" });
    errors.push(await rejection(make({ retry: { delaysMs: [] } }).getContact(CONTACT_ID)));
    api.failNext(1, 400);
    errors.push(await rejection(make({}).getContact(CONTACT_ID)));
    api.latencyMs = 200;
    errors.push(await rejection(make({ timeoutMs: 20, retry: { delaysMs: [] } }).getContact(CONTACT_ID)));
    api.latencyMs = 0;
    const echoing = createEngageClient({
      baseUrl: api.url,
      apiKey,
      retry: { delaysMs: [] },
      fetch: async (input) =>
        new Response(`{"broken": "${String(input)} ${EMAIL}`, { status: 200, headers: { apikey: apiKey } }),
    });
    errors.push(await rejection(echoing.getContact(CONTACT_ID)));
    const erroring = createEngageClient({
      baseUrl: api.url,
      apiKey,
      retry: { delaysMs: [] },
      fetch: async (input) => {
        throw new TypeError(`fetch failed for ${String(input)} with ${apiKey} and ${EMAIL}`);
      },
    });
    errors.push(await rejection(erroring.getContact(CONTACT_ID)));

    expect(errors.map((e) => e.status)).toEqual([401, 503, 429, 400, 0, 200, 0]);
    for (const error of errors) {
      for (const text of [error.message, String(error), error.stack ?? "", JSON.stringify(error)]) {
        expect(text).not.toContain(apiKey);
        expect(text).not.toContain(CONTACT_ID);
        expect(text).not.toContain(EMAIL);
      }
      expect(error.message).toMatch(/^contact lookup failed \(/);
      expect(error.cause).toBeUndefined();
    }
  });
});

describe("parseRetryAfter", () => {
  it("reads seconds and HTTP dates", () => {
    expect(parseRetryAfter("1")).toBe(1000);
    expect(parseRetryAfter(" 120 ")).toBe(120_000);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter("soon")).toBeUndefined();
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:30 GMT", now)).toBe(30_000);
    expect(parseRetryAfter("Wed, 31 Dec 2025 23:00:00 GMT", now)).toBe(0);
  });
});
