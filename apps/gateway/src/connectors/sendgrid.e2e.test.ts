// The connector package is not a gateway dependency yet (builtin.ts still has the placeholder): its
// build, by path. Once wired in, import it as "@engage-bridge/connector-sendgrid".
import { sendgridConnector } from "@engage-bridge/connector-sendgrid";
import { createEngageClient } from "@engage-bridge/engage-api";
import {
  type FakeEngageApi,
  type FakeSendGrid,
  sampleEvent,
  startFakeEngageApi,
  startFakeSendGrid,
} from "@engage-bridge/testkit";
import { afterEach, describe, expect, it } from "vitest";
import type { SourceRuntime } from "../delivery/connector-worker.ts";
import { startTestGateway, type TestGateway, waitFor } from "../test-support/harness.ts";

/**
 * The SendGrid connector end to end: signed Engage webhooks into a real gateway (SQLite store,
 * delivery engine), contact lookups against the fake Engage API, suppressions written through the
 * official SDK to the fake SendGrid, whose state is then compared with what Engage says.
 */

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

type Status = "delivered" | "skipped" | "dead" | "retrying" | "pending";

async function sendgrid(options: Parameters<typeof startFakeSendGrid>[0] = {}): Promise<FakeSendGrid> {
  const fake = await startFakeSendGrid(options);
  cleanups.push(() => fake.close());
  return fake;
}

async function engageApi(): Promise<FakeEngageApi> {
  const engage = await startFakeEngageApi({ apiKey: "engage-key" });
  cleanups.push(() => engage.close());
  return engage;
}

function lookupSources(engage: FakeEngageApi): Map<string, SourceRuntime> {
  const client = createEngageClient({
    baseUrl: engage.url,
    apiKey: "engage-key",
    cacheTtlMs: 0,
    // The fake has no limit; Engage's 40/s would make the bulk test slow, not different.
    rateLimit: { requests: 10_000, perSeconds: 1 },
  });
  return new Map([["engage", { payloadKey: undefined, lookup: client.lookup }]]);
}

async function gateway(
  sg: FakeSendGrid,
  sources: Map<string, SourceRuntime> | undefined,
  block: Record<string, unknown> = {},
  delivery: Record<string, unknown> = {},
): Promise<TestGateway> {
  const gw = await startTestGateway(
    { connectors: { sendgrid: { apiKey: sg.apiKey, baseUrl: sg.url, ...block } }, delivery },
    { connectors: [sendgridConnector], sources },
  );
  cleanups.push(() => gw.stop());
  return gw;
}

const count = async (gw: TestGateway, status: Status) =>
  (await gw.store.stats()).deliveries.sendgrid?.[status as "delivered"] ?? 0;

const settled = (gw: TestGateway, n: number, status: Status = "delivered") =>
  waitFor(async () => (await count(gw, status)) >= n, 20_000, `${n} ${status} sendgrid deliveries`);

const emailEvent = (contactId: string, value: boolean, changedAt?: string) =>
  sampleEvent("contact.acceptsEmail.changed", {
    contactId,
    payload: { value, ...(changedAt ? { changedAt } : {}) },
  });

async function postAll(gw: TestGateway, bodies: string[], parallel = 50): Promise<void> {
  for (let i = 0; i < bodies.length; i += parallel) {
    const answers = await Promise.all(bodies.slice(i, i + parallel).map((b) => gw.post(b)));
    expect(answers.every((a) => a.status === 204)).toBe(true);
  }
}

async function lastErrors(gw: TestGateway, status: Status): Promise<(string | null)[]> {
  const rows = await gw.store.listDeliveries({ connector: "sendgrid", status, limit: 0 });
  return rows.map((r) => r.lastError);
}

describe("sendgrid connector through the gateway", () => {
  it("global list: an opt-out adds the address, opting in again removes it", async () => {
    const sg = await sendgrid();
    const engage = await engageApi();
    engage.setContact("c-1", { email: "Jane.Doe@Example.com", acceptsEmail: false });
    sg.globalSuppressions.add("someone-else@example.com");
    const gw = await gateway(sg, lookupSources(engage));

    await gw.post(emailEvent("c-1", false));
    await settled(gw, 1);
    expect([...sg.globalSuppressions].sort()).toEqual(["jane.doe@example.com", "someone-else@example.com"]);

    engage.setContact("c-1", { email: "Jane.Doe@Example.com", acceptsEmail: true });
    await gw.post(emailEvent("c-1", true));
    await settled(gw, 2);
    expect([...sg.globalSuppressions]).toEqual(["someone-else@example.com"]);
    expect(sg.requests.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
      "POST /v3/asm/suppressions/global 201",
      "DELETE /v3/asm/suppressions/global/jane.doe%40example.com 204",
    ]);
    expect(gw.engine?.health().sendgrid?.healthy).toBe(true);
    // Logs name no address and no contact.
    expect(gw.logs.join("\n")).not.toMatch(/jane\.doe|c-1"/i);
  });

  it("unsubscribe group: opt-out and opt-in change the group only, never the global list", async () => {
    const sg = await sendgrid({ groups: [4242] });
    const engage = await engageApi();
    engage.setContact("c-1", { email: "a@example.com", acceptsEmail: false });
    engage.setContact("c-2", { email: "b@example.com", acceptsEmail: false });
    const gw = await gateway(sg, lookupSources(engage), { groupId: 4242 });
    expect(sg.requests.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
      "GET /v3/asm/groups/4242 200",
    ]);

    await postAll(gw, [emailEvent("c-1", false), emailEvent("c-2", false)]);
    await settled(gw, 2);
    expect([...sg.groupList(4242)].sort()).toEqual(["a@example.com", "b@example.com"]);

    engage.setContact("c-2", { email: "b@example.com", acceptsEmail: true });
    await gw.post(emailEvent("c-2", true));
    await settled(gw, 3);
    expect([...sg.groupList(4242)]).toEqual(["a@example.com"]);
    expect(sg.globalSuppressions.size).toBe(0);
    expect(sg.requests.slice(-1).map((r) => `${r.method} ${r.path}`)).toEqual([
      "DELETE /v3/asm/groups/4242/suppressions/b%40example.com",
    ]);
  });

  it("refuses to start with an unknown unsubscribe group (SendGrid would use the global list)", async () => {
    const sg = await sendgrid({ groups: [1] });
    await expect(
      startTestGateway(
        { connectors: { sendgrid: { apiKey: sg.apiKey, baseUrl: sg.url, groupId: 4242 } } },
        { connectors: [sendgridConnector] },
      ),
    ).rejects.toThrow(
      /connector sendgrid failed its start-up check: unsubscribe group 4242 does not exist in SendGrid.*GLOBAL/,
    );
    expect(sg.requests.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
      "GET /v3/asm/groups/4242 404",
    ]);
    expect(sg.globalSuppressions.size).toBe(0);
  });

  it("duplicates: a redelivered webhook creates nothing; repeated events leave one suppression", async () => {
    const sg = await sendgrid();
    const engage = await engageApi();
    engage.setContact("c-1", { email: "a@example.com", acceptsEmail: false });
    const gw = await gateway(sg, lookupSources(engage));
    const body = emailEvent("c-1", false);
    expect((await gw.post(body, { msgId: "msg_dup_1" })).status).toBe(204);
    expect((await gw.post(body, { msgId: "msg_dup_1" })).status).toBe(204);
    await settled(gw, 1);
    await gw.post(emailEvent("c-1", false));
    await gw.post(emailEvent("c-1", false));
    await settled(gw, 3);
    expect((await gw.store.stats()).deliveries.sendgrid).toEqual({ delivered: 3 });
    expect([...sg.globalSuppressions]).toEqual(["a@example.com"]);
  });

  it("out of order: the applied value is Engage's current one, whichever event arrives last", async () => {
    const sg = await sendgrid();
    const engage = await engageApi();
    // c-1 opted out last: the older opt-in arrives after the opt-out.
    engage.setContact("c-1", { email: "out@example.com", acceptsEmail: false });
    // c-2 opted in last: the older opt-out arrives after the opt-in.
    engage.setContact("c-2", { email: "in@example.com", acceptsEmail: true });
    sg.globalSuppressions.add("in@example.com");
    const gw = await gateway(sg, lookupSources(engage));

    await gw.post(emailEvent("c-1", false, "2026-11-28T10:00:00Z"));
    await gw.post(emailEvent("c-2", true, "2026-11-28T10:00:00Z"));
    await settled(gw, 2);
    await gw.post(emailEvent("c-1", true, "2026-11-28T09:00:00Z"));
    await gw.post(emailEvent("c-2", false, "2026-11-28T09:00:00Z"));
    await settled(gw, 4);
    expect([...sg.globalSuppressions]).toEqual(["out@example.com"]);
    // Every event was looked up at delivery time.
    expect(engage.requests.filter((r) => r.path.endsWith("/c-1"))).toHaveLength(2);
    expect(engage.requests.filter((r) => r.path.endsWith("/c-2"))).toHaveLength(2);
  });

  it("1,000 opt-outs: one POST per batch, at most 1 call per 20 addresses, exactly the expected list", async () => {
    // A realistic round trip (SendGrid is far away): events queue up while a batch is on the wire.
    const sg = await sendgrid({ latencyMs: 100 });
    const engage = await engageApi();
    const expected = new Set<string>();
    const bodies: string[] = [];
    for (let i = 0; i < 1_000; i++) {
      engage.setContact(`bulk-${i}`, { email: `bulk${i}@example.com`, acceptsEmail: false });
      expected.add(`bulk${i}@example.com`);
      bodies.push(emailEvent(`bulk-${i}`, false));
    }
    const gw = await gateway(sg, lookupSources(engage));
    await postAll(gw, bodies);
    await settled(gw, 1_000);
    expect(sg.globalSuppressions).toEqual(expected);
    expect(sg.requests.every((r) => r.method === "POST" && r.status === 201)).toBe(true);
    expect(sg.requests.length).toBeLessThanOrEqual(1_000 / 20);
    expect(sg.requests.reduce((n, r) => n + r.emails.length, 0)).toBe(1_000);
  });

  it("an operator's rateLimit paces every request, the DELETEs of one batch included", async () => {
    const sg = await sendgrid({ latencyMs: 50 });
    const engage = await engageApi();
    const bodies: string[] = [];
    for (let i = 0; i < 5; i++) {
      engage.setContact(`in-${i}`, { email: `in${i}@example.com`, acceptsEmail: true });
      sg.globalSuppressions.add(`in${i}@example.com`);
      bodies.push(emailEvent(`in-${i}`, true));
    }
    const gw = await gateway(sg, lookupSources(engage), { rateLimit: { requests: 2, perSeconds: 1 } });
    await postAll(gw, bodies);
    await settled(gw, 5);
    expect(sg.globalSuppressions.size).toBe(0);
    expect(sg.requests.map((r) => r.status)).toEqual([204, 204, 204, 204, 204]);
    // Never more than 2 requests within one second, as the fake saw them.
    for (let i = 2; i < sg.requests.length; i++) {
      const gap = (sg.requests[i]?.at ?? 0) - (sg.requests[i - 2]?.answeredAt ?? 0);
      expect(gap).toBeGreaterThanOrEqual(1000);
    }
  });

  it("429: retried, and never earlier than SendGrid's reset (epoch and seconds readings)", async () => {
    for (const resetStyle of ["epoch", "seconds"] as const) {
      const sg = await sendgrid();
      const engage = await engageApi();
      engage.setContact("c-1", { email: "a@example.com", acceptsEmail: false });
      sg.failNext(1, { status: 429, resetSeconds: 2, resetStyle });
      const gw = await gateway(sg, lookupSources(engage));
      await gw.post(emailEvent("c-1", false));
      await settled(gw, 1);
      const [limited, next] = sg.requests;
      expect(limited?.status).toBe(429);
      expect(next?.status).toBe(201);
      const resetAt =
        resetStyle === "epoch"
          ? (limited?.rateLimitReset ?? 0) * 1000
          : (limited?.answeredAt ?? 0) + (limited?.rateLimitReset ?? 0) * 1000;
      expect(next?.at ?? 0).toBeGreaterThanOrEqual(resetAt);
      expect([...sg.globalSuppressions]).toEqual(["a@example.com"]);
    }
  });

  it("5xx: retried until delivered", async () => {
    const sg = await sendgrid();
    const engage = await engageApi();
    engage.setContact("c-1", { email: "a@example.com", acceptsEmail: false });
    sg.failNext(2, { status: 503 });
    const gw = await gateway(sg, lookupSources(engage));
    await gw.post(emailEvent("c-1", false));
    await settled(gw, 1);
    expect(sg.requests.map((r) => r.status)).toEqual([503, 503, 201]);
    const [row] = await gw.store.listDeliveries({ connector: "sendgrid", limit: 0 });
    expect(row).toMatchObject({ status: "delivered", attempts: 3 });
  });

  it("401: dead with the reason, connector unhealthy; 400: dead with SendGrid's message, address masked", async () => {
    const sg = await sendgrid();
    const engage = await engageApi();
    engage.setContact("c-1", { email: "a@example.com", acceptsEmail: false });
    const wrongKey = await startTestGateway(
      { connectors: { sendgrid: { apiKey: "SG.revoked", baseUrl: sg.url } } },
      { connectors: [sendgridConnector], sources: lookupSources(engage) },
    );
    cleanups.push(() => wrongKey.stop());
    await wrongKey.post(emailEvent("c-1", false));
    await settled(wrongKey, 1, "dead");
    expect(await lastErrors(wrongKey, "dead")).toEqual([
      "SendGrid refused the API key (401): The provided authorization grant is invalid, expired, or revoked",
    ]);
    expect(wrongKey.engine?.health().sendgrid).toMatchObject({ healthy: false });
    const ready = await fetch(`${wrongKey.url}/readyz`);
    expect(JSON.stringify(await ready.json())).toContain("SendGrid refused the API key (401)");

    const gw = await gateway(sg, lookupSources(engage));
    sg.failNext(1, {
      status: 400,
      message: "a@example.com: recipient_emails invalid",
      field: "recipient_emails",
    });
    await gw.post(emailEvent("c-1", false));
    await settled(gw, 1, "dead");
    expect(await lastErrors(gw, "dead")).toEqual([
      "SendGrid rejected the request (400): <email>: recipient_emails invalid (recipient_emails)",
    ]);
  });

  it("skips what has no address; SMS and postal events are not its business", async () => {
    const sg = await sendgrid();
    const engage = await engageApi();
    engage.setContact("no-email", { acceptsEmail: false });
    const gw = await gateway(sg, lookupSources(engage));
    await gw.post(emailEvent("no-email", false));
    await gw.post(emailEvent("not-in-engage", false));
    await gw.post(sampleEvent("contact.acceptsSms.changed", { payload: { value: false } }));
    await gw.post(sampleEvent("contact.acceptsPostal.changed", { payload: { value: false } }));
    await settled(gw, 2, "skipped");
    expect((await lastErrors(gw, "skipped")).sort()).toEqual([
      "no email address: Engage does not know the contact",
      "no email address: the contact has none in Engage",
    ]);
    expect((await gw.store.stats()).deliveries.sendgrid).toEqual({ skipped: 2 });
    expect(sg.requests).toHaveLength(0);

    // Without the Engage API the address is unknown: skipped, saying why.
    const bare = await gateway(sg, undefined);
    await bare.post(emailEvent("no-email", false));
    await settled(bare, 1, "skipped");
    expect((await lastErrors(bare, "skipped"))[0]).toMatch(/configure engageApi on the source/);
  });
});
