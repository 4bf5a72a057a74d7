import { DAILY_RETRY_MS } from "@engage-bridge/connector-hubspot";
import { createEngageClient } from "@engage-bridge/engage-api";
import {
  FAKE_HUBSPOT_SUBSCRIPTION_ID,
  type FakeEngageApi,
  type FakeHubSpot,
  type FakeHubSpotFault,
  sampleEvent,
  startFakeEngageApi,
  startFakeHubSpot,
} from "@engage-bridge/testkit";
import { afterEach, describe, expect, it } from "vitest";
import type { SourceRuntime } from "../delivery/connector-worker.ts";
import { startTestGateway, TEST_SECRET, type TestGateway, waitFor } from "../test-support/harness.ts";

/**
 * The HubSpot connector end to end: signed Engage webhooks into a real gateway (SQLite store,
 * delivery engine, built-in connector registry), contact lookups against the fake Engage API,
 * writes through `@hubspot/api-client` to the fake HubSpot, whose state is then compared with
 * what Engage says.
 */

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

type Status = "delivered" | "skipped" | "dead" | "retrying" | "pending";
const SUBSCRIPTION = FAKE_HUBSPOT_SUBSCRIPTION_ID;
const ENGAGE_KEY = "engage-key";

async function hubspotFake(options: Parameters<typeof startFakeHubSpot>[0] = {}): Promise<FakeHubSpot> {
  const fake = await startFakeHubSpot(options);
  cleanups.push(() => fake.close());
  return fake;
}

async function engageApi(): Promise<FakeEngageApi> {
  const engage = await startFakeEngageApi({ apiKey: ENGAGE_KEY });
  cleanups.push(() => engage.close());
  return engage;
}

interface GatewayOptions {
  /** Merged over the connector block. */
  block?: Record<string, unknown>;
  delivery?: Record<string, unknown>;
  /**
   * Contact lookups: through the source's `engageApi` config (default), an injected client without
   * cache or rate limit, or none.
   */
  lookup?: "config" | "fast" | "none";
}

/** A gateway whose source `engage` looks contacts up in `engage`, with the hubspot connector on `hs`. */
async function gateway(hs: FakeHubSpot, engage: FakeEngageApi | undefined, options: GatewayOptions = {}) {
  const lookup = options.lookup ?? (engage ? "config" : "none");
  const source: Record<string, unknown> = { signingSecrets: [TEST_SECRET] };
  if (lookup === "config" && engage) source.engageApi = { baseUrl: engage.url, apiKey: ENGAGE_KEY };
  let sources: Map<string, SourceRuntime> | undefined;
  if (lookup === "fast" && engage) {
    // The fake has no limit; Engage's 40 lookups/s would make the bulk tests slow, not different.
    const client = createEngageClient({
      baseUrl: engage.url,
      apiKey: ENGAGE_KEY,
      cacheTtlMs: 0,
      rateLimit: { requests: 10_000, perSeconds: 1 },
    });
    sources = new Map([["engage", { payloadKey: undefined, lookup: client.lookup }]]);
  }
  const gw = await startTestGateway(
    {
      sources: { engage: source },
      connectors: {
        hubspot: {
          accessToken: hs.accessToken,
          baseUrl: hs.url,
          subscriptionId: Number(SUBSCRIPTION),
          legalBasisExplanation: "Preference changed in Voyado Engage (test)",
          ...options.block,
        },
      },
      delivery: options.delivery ?? {},
    },
    { sources },
  );
  cleanups.push(() => gw.stop());
  return gw;
}

const count = async (gw: TestGateway, status: Status) =>
  (await gw.store.stats()).deliveries.hubspot?.[status as "delivered"] ?? 0;

const settled = (gw: TestGateway, n: number, status: Status = "delivered", timeoutMs = 20_000) =>
  waitFor(async () => (await count(gw, status)) >= n, timeoutMs, `${n} ${status} hubspot deliveries`);

const rows = (gw: TestGateway, status?: Status) =>
  gw.store.listDeliveries({ connector: "hubspot", limit: 0, ...(status ? { status } : {}) });

const preference = (
  channel: "Email" | "Sms" | "Postal",
  contactId: string,
  value: boolean,
  changedAt?: string,
) =>
  sampleEvent(`contact.accepts${channel}.changed`, {
    contactId,
    payload: { value, ...(changedAt ? { changedAt } : {}) },
  });
const emailEvent = (contactId: string, value: boolean, changedAt?: string) =>
  preference("Email", contactId, value, changedAt);

async function postAll(gw: TestGateway, bodies: readonly string[], parallel = 50): Promise<void> {
  for (let i = 0; i < bodies.length; i += parallel) {
    const answers = await Promise.all(bodies.slice(i, i + parallel).map((b) => gw.post(b)));
    expect(answers.every((a) => a.status === 204)).toBe(true);
  }
}

/** The requests that wrote something (the start-up checks' reads left out). */
const writes = (hs: FakeHubSpot) => hs.requests.filter((r) => r.method !== "GET");

describe("hubspot connector through the gateway", () => {
  it("subscribes and unsubscribes with single writes, as Engage says, with the configured legal basis", async () => {
    const hs = await hubspotFake();
    const engage = await engageApi();
    engage.setContact("c-1", { email: "Jane.Doe+news@Example.com", acceptsEmail: true });
    const gw = await gateway(hs, engage);
    expect(hs.requests.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
      "GET /communication-preferences/2026-03/definitions 200",
    ]);

    await gw.post(emailEvent("c-1", true));
    await settled(gw, 1);
    expect(hs.status("jane.doe+news@example.com")).toMatchObject({
      statusState: "SUBSCRIBED",
      legalBasis: "CONSENT_WITH_NOTICE",
      legalBasisExplanation: "Preference changed in Voyado Engage (test)",
    });

    engage.setContact("c-1", { email: "Jane.Doe+news@Example.com", acceptsEmail: false });
    await gw.post(emailEvent("c-1", false));
    await settled(gw, 2);
    expect(hs.status("jane.doe+news@example.com")?.statusState).toBe("UNSUBSCRIBED");
    expect(writes(hs).map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
      "POST /communication-preferences/2026-03/statuses/Jane.Doe%2Bnews%40Example.com 200",
      "POST /communication-preferences/2026-03/statuses/Jane.Doe%2Bnews%40Example.com 200",
    ]);
    expect(gw.engine?.health().hubspot?.healthy).toBe(true);
    // Logs name no address and no contact.
    expect(gw.logs.join("\n")).not.toMatch(/jane\.doe|"c-1"/i);
  });

  it("batch mode: statuses/batch/write in batches of at most 100, every status as Engage says", async () => {
    const hs = await hubspotFake({ latencyMs: 50 });
    const engage = await engageApi();
    const bodies: string[] = [];
    for (let i = 0; i < 250; i++) {
      engage.setContact(`b-${i}`, { email: `b${i}@example.com`, acceptsEmail: i % 3 !== 0 });
      bodies.push(emailEvent(`b-${i}`, i % 3 !== 0));
    }
    const gw = await gateway(hs, engage, { block: { batch: true }, lookup: "fast" });
    await postAll(gw, bodies);
    await settled(gw, 250);
    for (let i = 0; i < 250; i++) {
      expect(hs.status(`b${i}@example.com`)?.statusState, `b${i}`).toBe(
        i % 3 !== 0 ? "SUBSCRIBED" : "UNSUBSCRIBED",
      );
    }
    const batches = writes(hs);
    expect(batches.every((r) => r.path === "/communication-preferences/2026-03/statuses/batch/write")).toBe(
      true,
    );
    const sizes = batches.map((r) => (r.body as { inputs: unknown[] }).inputs.length);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(100);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(250);
    expect(batches.length).toBeLessThan(250 / 5);
  });

  it("mirrors SMS and postal into contact properties when configured, and skips them (saying why) when not", async () => {
    const hs = await hubspotFake({ contacts: ["a@example.com"] });
    const engage = await engageApi();
    engage.setContact("c-1", { email: "a@example.com", acceptsSms: true, acceptsPostal: false });
    const gw = await gateway(hs, engage, {
      block: { smsProperty: "engage_accepts_sms", postalProperty: "engage_accepts_postal" },
    });
    await gw.post(preference("Sms", "c-1", true));
    await gw.post(preference("Postal", "c-1", false));
    await settled(gw, 2);
    expect(hs.contact("a@example.com")).toMatchObject({
      engage_accepts_sms: "true",
      engage_accepts_postal: "false",
    });
    expect(writes(hs).map((r) => `${r.method} ${r.path}`)).toEqual([
      "PATCH /crm/v3/objects/contacts/a%40example.com?idProperty=email",
      "PATCH /crm/v3/objects/contacts/a%40example.com?idProperty=email",
    ]);

    engage.setContact("c-1", { email: "a@example.com", acceptsSms: false, acceptsPostal: false });
    await gw.post(preference("Sms", "c-1", false));
    await settled(gw, 3);
    expect(hs.contact("a@example.com")?.engage_accepts_sms).toBe("false");

    // Without the properties: skipped, with the reason, and HubSpot sees nothing.
    const bare = await hubspotFake();
    const gw2 = await gateway(bare, engage);
    await gw2.post(preference("Sms", "c-1", true));
    await gw2.post(preference("Postal", "c-1", true));
    await settled(gw2, 2, "skipped");
    expect((await rows(gw2, "skipped")).map((r) => r.lastError).sort()).toEqual([
      "HubSpot has no SMS consent channel; set smsProperty to mirror acceptsSms into a contact property",
      "HubSpot has no postal consent channel; set postalProperty to mirror acceptsPostal into a contact property",
    ]);
    expect(writes(bare)).toHaveLength(0);
  });

  it("a contact unknown to HubSpot's CRM is retried later, not lost", async () => {
    const hs = await hubspotFake();
    const engage = await engageApi();
    engage.setContact("c-1", { email: "new@example.com", acceptsSms: true });
    const gw = await gateway(hs, engage, { block: { smsProperty: "engage_accepts_sms" } });
    const before = Date.now();
    await gw.post(preference("Sms", "c-1", true));
    await settled(gw, 1, "retrying");
    const [row] = await rows(gw, "retrying");
    expect(row?.lastError).toMatch(/HubSpot has no contact with this email \(yet\): HubSpot answered 404/);
    expect(Date.parse(row?.nextAttemptAt ?? "")).toBeGreaterThanOrEqual(before + 59_000);
    expect(hs.contact("new@example.com")).toBeUndefined();
  });

  it("skips a contact without an email, and says how to get emails when no lookup is configured", async () => {
    const hs = await hubspotFake();
    const engage = await engageApi();
    engage.setContact("c-1", { acceptsEmail: true });
    const gw = await gateway(hs, engage);
    await gw.post(emailEvent("c-1", true));
    await settled(gw, 1, "skipped");
    expect((await rows(gw, "skipped"))[0]?.lastError).toBe(
      "no email address: the contact has none in Engage",
    );

    const noLookup = await gateway(hs, undefined);
    await noLookup.post(emailEvent("c-1", true));
    await settled(noLookup, 1, "skipped");
    expect((await rows(noLookup, "skipped"))[0]?.lastError).toMatch(
      /^no email address: configure engageApi on the source/,
    );
    expect(writes(hs)).toHaveLength(0);
  });
});

describe("hubspot answers through the gateway", () => {
  async function setup(block: Record<string, unknown> = {}, options: Parameters<typeof hubspotFake>[0] = {}) {
    const hs = await hubspotFake(options);
    const engage = await engageApi();
    engage.setContact("c-1", { email: "a@example.com", acceptsEmail: true });
    const gw = await gateway(hs, engage, { block });
    return { hs, engage, gw };
  }

  it.each<[string, FakeHubSpotFault]>([
    ["5xx", { type: "server-error", status: 503 }],
    ["a dropped connection", { type: "network" }],
    ["a 2xx listing the input in errors", { type: "errors-in-2xx" }],
    ["a 2xx without results", { type: "empty-results" }],
  ])("retries after %s until the status is written", async (_, fault) => {
    const { hs, gw } = await setup();
    hs.failNext(2, fault);
    await gw.post(emailEvent("c-1", true));
    await settled(gw, 1);
    const [row] = await rows(gw, "delivered");
    expect(row?.attempts).toBe(3);
    expect(hs.status("a@example.com")?.statusState).toBe("SUBSCRIBED");
  });

  it("batch mode: a 2xx with errors or empty results is retried, not counted as delivered", async () => {
    const { hs, engage, gw } = await setup({ batch: true });
    engage.setContact("c-2", { email: "b@example.com", acceptsEmail: false });
    hs.failNext(1, { type: "errors-in-2xx" });
    hs.failNext(1, { type: "empty-results" });
    await postAll(gw, [emailEvent("c-1", true), emailEvent("c-2", false)]);
    await settled(gw, 2);
    expect(hs.status("a@example.com")?.statusState).toBe("SUBSCRIBED");
    expect(hs.status("b@example.com")?.statusState).toBe("UNSUBSCRIBED");
    expect(Math.max(...(await rows(gw, "delivered")).map((r) => r.attempts))).toBeGreaterThanOrEqual(2);
  });

  it("429 TEN_SECONDLY_ROLLING: waits the interval HubSpot names, then delivers", async () => {
    const { hs, gw } = await setup({}, { rateLimit: { max: 100, intervalMs: 700 } });
    hs.failNext(1, { type: "rate-limit" });
    await gw.post(emailEvent("c-1", true));
    await settled(gw, 1);
    const [limited, next] = writes(hs);
    expect(limited?.status).toBe(429);
    expect(next?.status).toBe(200);
    expect((next?.at ?? 0) - (limited?.answeredAt ?? 0)).toBeGreaterThanOrEqual(700);
  });

  it("429 DAILY: retried much later, the connector paused meanwhile", async () => {
    const { hs, gw } = await setup();
    hs.failNext(1, { type: "daily-limit" });
    const before = Date.now();
    await gw.post(emailEvent("c-1", true));
    await settled(gw, 1, "retrying");
    const [row] = await rows(gw, "retrying");
    expect(row?.lastError).toMatch(/daily limit is used up: HubSpot answered 429 DAILY/);
    expect(Date.parse(row?.nextAttemptAt ?? "")).toBeGreaterThanOrEqual(before + DAILY_RETRY_MS - 1_000);
    // Another event waits too: the daily quota is the whole app's.
    await gw.post(emailEvent("c-1", true));
    await new Promise((r) => setTimeout(r, 500));
    expect(writes(hs)).toHaveLength(1);
    expect(await count(gw, "pending")).toBe(1);
  });

  it.each([
    ["unauthorized", 401],
    ["forbidden", 403],
  ] as const)(
    "%s (%i): dead, and the connector is unhealthy in /readyz and the metrics",
    async (type, status) => {
      const { hs, gw } = await setup();
      hs.failNext(1, { type });
      await gw.post(emailEvent("c-1", true));
      await settled(gw, 1, "dead");
      expect((await rows(gw, "dead"))[0]?.lastError).toContain(`HubSpot answered ${status}`);
      const ready = await fetch(`${gw.url}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({
        connectors: {
          hubspot: { healthy: false, reason: expect.stringMatching(/refused the access token/) },
        },
      });
      const metrics = await (await fetch(`${gw.url}/metrics`)).text();
      expect(metrics).toMatch(/engage_bridge_connector_healthy\{connector="hubspot"\} 0/);
      // The token works again: the next delivery makes it healthy.
      await gw.post(emailEvent("c-1", true));
      await settled(gw, 1);
      expect(gw.engine?.health().hubspot?.healthy).toBe(true);
      expect(await (await fetch(`${gw.url}/metrics`)).text()).toMatch(
        /engage_bridge_connector_healthy\{connector="hubspot"\} 1/,
      );
    },
  );

  it("400 validation: dead with HubSpot's message and correlation id, never retried", async () => {
    const { hs, gw } = await setup();
    hs.failNext(1, { type: "validation", message: "Legal basis explanation is too long" });
    await gw.post(emailEvent("c-1", true));
    await settled(gw, 1, "dead");
    const [row] = await rows(gw, "dead");
    expect(row?.attempts).toBe(1);
    expect(row?.lastError).toMatch(
      /^HubSpot rejected the write: HubSpot answered 400 VALIDATION_ERROR: Legal basis explanation is too long \(correlation id [0-9a-f-]{36}\)$/,
    );
    expect(writes(hs)).toHaveLength(1);
  });
});

describe("hubspot start-up check", () => {
  it("refuses to start with a subscriptionId the account does not have", async () => {
    const hs = await hubspotFake({ subscriptions: [{ id: "777", name: "Newsletter" }] });
    await expect(gateway(hs, undefined)).rejects.toThrow(
      "connector hubspot failed its start-up check: subscriptionId 123456 does not exist in this HubSpot account; its subscription types are: 777 (Newsletter)",
    );
  });

  it("refuses to start with a token HubSpot refuses", async () => {
    const hs = await hubspotFake();
    await expect(gateway(hs, undefined, { block: { accessToken: "pat-eu1-revoked" } })).rejects.toThrow(
      /connector hubspot failed its start-up check: HubSpot at http:\/\/127\.0\.0\.1:\d+ refused the access token \(401\)/,
    );
  });
});

describe("hubspot convergence and load", () => {
  it("duplicates and out-of-order events converge on Engage's current value", async () => {
    const hs = await hubspotFake();
    const engage = await engageApi();
    // c-1 opted out last; c-2 opted in last. Their older events arrive after the newer ones.
    engage.setContact("c-1", { email: "out@example.com", acceptsEmail: false });
    engage.setContact("c-2", { email: "in@example.com", acceptsEmail: true });
    // Without a lookup cache, so that every delivery is seen asking Engage.
    const gw = await gateway(hs, engage, { lookup: "fast" });
    const optOut = emailEvent("c-1", false, "2026-11-28T10:00:00Z");
    await gw.post(optOut, { msgId: "msg_dup_1" });
    await gw.post(emailEvent("c-2", true, "2026-11-28T10:00:00Z"));
    await settled(gw, 2);
    // A redelivered webhook creates nothing; a repeated event and the older ones apply Engage's value.
    expect((await gw.post(optOut, { msgId: "msg_dup_1" })).status).toBe(204);
    await postAll(gw, [
      emailEvent("c-1", true, "2026-11-28T09:00:00Z"),
      emailEvent("c-2", false, "2026-11-28T09:00:00Z"),
      emailEvent("c-1", false, "2026-11-28T10:00:00Z"),
    ]);
    await settled(gw, 5);
    expect((await gw.store.stats()).deliveries.hubspot).toEqual({ delivered: 5 });
    expect(hs.status("out@example.com")?.statusState).toBe("UNSUBSCRIBED");
    expect(hs.status("in@example.com")?.statusState).toBe("SUBSCRIBED");
    // Every delivery looked Engage up; none wrote the stale payload value.
    expect(engage.requests.filter((r) => r.path.endsWith("/c-1"))).toHaveLength(3);
    const bodies = writes(hs).map(
      (r) => `${r.path.split("/").at(-1)} ${(r.body as { statusState: string }).statusState}`,
    );
    expect(bodies.filter((b) => b.startsWith("out%40")).every((b) => b.endsWith("UNSUBSCRIBED"))).toBe(true);
    expect(bodies.filter((b) => b.startsWith("in%40")).every((b) => b.endsWith(" SUBSCRIBED"))).toBe(true);
  });

  it("a burst of 1,000 changes with single writes: all delivered, never more than the window allows", async () => {
    // HubSpot's 100 per 10 s, scaled down in time so that the test stays short: 100 per second.
    const window = { max: 100, intervalMs: 1_000 };
    const hs = await hubspotFake({ rateLimit: window });
    const engage = await engageApi();
    const bodies: string[] = [];
    for (let i = 0; i < 1_000; i++) {
      engage.setContact(`s-${i}`, { email: `s${i}@example.com`, acceptsEmail: i % 2 === 0 });
      bodies.push(emailEvent(`s-${i}`, i % 2 === 0));
    }
    const gw = await gateway(hs, engage, {
      block: { rateLimit: { requests: window.max, perSeconds: window.intervalMs / 1000 } },
      lookup: "fast",
    });
    const started = Date.now();
    await postAll(gw, bodies);
    await settled(gw, 1_000, "delivered", 60_000);
    const seconds = (Date.now() - started) / 1000;
    for (let i = 0; i < 1_000; i++) {
      expect(hs.status(`s${i}@example.com`)?.statusState).toBe(i % 2 === 0 ? "SUBSCRIBED" : "UNSUBSCRIBED");
    }
    expect(hs.requests.filter((r) => r.status === 429)).toHaveLength(0);
    expect(hs.maxRequestsInWindow(window.intervalMs)).toBeLessThanOrEqual(window.max);
    expect(writes(hs)).toHaveLength(1_000);
    // 1,000 requests at 100/s cannot take less than 9 s; the pacing should not make it much slower.
    expect(seconds).toBeGreaterThanOrEqual(9);
    expect(seconds).toBeLessThan(40);
  });

  it("batch mode with mirrored SMS: every PATCH after the first is paced too", async () => {
    const window = { max: 4, intervalMs: 1_000 };
    const hs = await hubspotFake({ rateLimit: window });
    const engage = await engageApi();
    const bodies = [emailEvent("p-0", true)];
    for (let i = 0; i < 9; i++) {
      engage.setContact(`p-${i}`, {
        email: `p${i}@example.com`,
        acceptsEmail: true,
        acceptsSms: i % 2 === 0,
      });
      hs.addContact(`p${i}@example.com`);
      bodies.push(preference("Sms", `p-${i}`, i % 2 === 0));
    }
    const gw = await gateway(hs, engage, {
      block: { batch: true, smsProperty: "engage_accepts_sms", rateLimit: { requests: 4, perSeconds: 1 } },
      lookup: "fast",
    });
    await postAll(gw, bodies);
    await settled(gw, 10);
    for (let i = 0; i < 9; i++) {
      expect(hs.contact(`p${i}@example.com`)?.engage_accepts_sms).toBe(i % 2 === 0 ? "true" : "false");
    }
    expect(hs.status("p0@example.com")?.statusState).toBe("SUBSCRIBED");
    expect(hs.requests.filter((r) => r.status === 429)).toHaveLength(0);
    expect(hs.maxRequestsInWindow()).toBeLessThanOrEqual(window.max);
  });

  it("a burst of 1,000 changes in batch mode fits in a few calls", async () => {
    const hs = await hubspotFake({ latencyMs: 100 });
    const engage = await engageApi();
    const bodies: string[] = [];
    for (let i = 0; i < 1_000; i++) {
      engage.setContact(`m-${i}`, { email: `m${i}@example.com`, acceptsEmail: i % 2 === 1 });
      bodies.push(emailEvent(`m-${i}`, i % 2 === 1));
    }
    const gw = await gateway(hs, engage, { block: { batch: true }, lookup: "fast" });
    await postAll(gw, bodies);
    await settled(gw, 1_000, "delivered", 60_000);
    for (let i = 0; i < 1_000; i++) {
      expect(hs.status(`m${i}@example.com`)?.statusState).toBe(i % 2 === 1 ? "SUBSCRIBED" : "UNSUBSCRIBED");
    }
    expect(writes(hs).length).toBeLessThanOrEqual(50);
    expect(hs.requests.filter((r) => r.status === 429)).toHaveLength(0);
  });
});
