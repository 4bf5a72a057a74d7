import { afterEach, describe, expect, it } from "vitest";
import {
  type FakeWebhookReceiver,
  type FakeWebhookReceiverOptions,
  generateWebhookSecret,
  startFakeWebhookReceiver,
} from "./fake-webhook-receiver.ts";
import { signedHeaders } from "./sender.ts";

/**
 * The fake receiver against the Standard Webhooks spec: a request signed with the `webhook-*`
 * headers (by `svix`'s own signer) is answered 204 and logged verified; anything else that reaches
 * its path is answered 401; injected faults answer whatever the request carries.
 */

const receivers: FakeWebhookReceiver[] = [];
afterEach(async () => {
  for (const r of receivers.splice(0)) await r.close();
});

async function receiver(options: FakeWebhookReceiverOptions = {}) {
  const r = await startFakeWebhookReceiver(options);
  receivers.push(r);
  return r;
}

async function post(r: FakeWebhookReceiver, body: string, headers: Record<string, string>, url = r.url) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as unknown) : undefined };
}

describe("fake webhook receiver", () => {
  it("answers 204 to a request signed per Standard Webhooks and logs it verified, body parsed", async () => {
    const r = await receiver();
    expect(r.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(r.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/webhook$/);
    const body = JSON.stringify({ id: "evt-1", type: "loyalty.addPoints" });
    const headers: Record<string, string> = {
      ...signedHeaders(r.secret, "evt-1", body, { brand: "webhook" }),
      "x-api-key": "k",
    };
    expect(await post(r, body, headers)).toMatchObject({ status: 204, body: undefined });
    expect(r.received).toHaveLength(1);
    expect(r.received[0]).toMatchObject({
      id: "evt-1",
      timestamp: Number(headers["webhook-timestamp"]),
      body: { id: "evt-1", type: "loyalty.addPoints" },
      raw: body,
      verified: true,
      status: 204,
    });
    expect(r.received[0]?.headers["x-api-key"]).toBe("k");
    expect(r.accepted()).toEqual(r.received);
  });

  it("answers 401 to a wrong secret, a changed body, a stale timestamp or missing headers", async () => {
    const r = await receiver({ secret: generateWebhookSecret() });
    const body = '{"id":"evt-1"}';
    const other = generateWebhookSecret();
    const stale = Math.floor(Date.now() / 1000) - 3600;
    const cases: [string, Record<string, string>][] = [
      [body, signedHeaders(other, "evt-1", body, { brand: "webhook" })],
      [`${body} `, signedHeaders(r.secret, "evt-1", body, { brand: "webhook" })],
      [body, signedHeaders(r.secret, "evt-1", body, { brand: "webhook", timestamp: stale })],
      [body, {}],
    ];
    for (const [sent, headers] of cases) {
      expect(await post(r, sent, headers)).toMatchObject({
        status: 401,
        body: { error: "invalid signature" },
      });
    }
    expect(r.received.map((x) => [x.verified, x.status])).toEqual(Array(4).fill([false, 401]));
    expect(r.accepted()).toEqual([]);
  });

  it("plays injected faults (times, headers, body) whatever the request carries, then verifies again", async () => {
    const r = await receiver();
    const body = '{"id":"evt-2"}';
    const headers = signedHeaders(r.secret, "evt-2", body, { brand: "webhook" });
    r.failNext(503, { times: 2, headers: { "retry-after": "3" } });
    r.failNext(410, { body: "endpoint removed" });
    const first = await post(r, body, headers);
    expect(first).toMatchObject({ status: 503, body: { error: "fault 503" } });
    expect(first.headers.get("retry-after")).toBe("3");
    expect((await post(r, body, headers)).status).toBe(503);
    const gone = await fetch(r.url, { method: "POST", headers, body });
    expect(gone.status).toBe(410);
    expect(await gone.text()).toBe("endpoint removed");
    expect((await post(r, body, headers)).status).toBe(204);
    expect(r.received.map((x) => [x.status, x.verified])).toEqual([
      [503, true],
      [503, true],
      [410, true],
      [204, true],
    ]);
    expect(r.accepted()).toHaveLength(1);
  });

  it("a fault for one webhook-id leaves the others alone", async () => {
    const r = await receiver();
    const send = (id: string) => post(r, "{}", signedHeaders(r.secret, id, "{}", { brand: "webhook" }));
    r.failNext(503, { id: "evt-a", times: 2 });
    expect((await send("evt-b")).status).toBe(204);
    expect((await send("evt-a")).status).toBe(503);
    expect((await send("evt-b")).status).toBe(204);
    expect((await send("evt-a")).status).toBe(503);
    expect((await send("evt-a")).status).toBe(204);
    expect(r.accepted().map((x) => x.id)).toEqual(["evt-b", "evt-b", "evt-a"]);
  });

  it("serves one path: 404 elsewhere, 405 for other methods; neither is logged", async () => {
    const r = await receiver({ path: "/hooks/engage" });
    expect(r.url.endsWith("/hooks/engage")).toBe(true);
    const body = "{}";
    const headers = signedHeaders(r.secret, "x", body, { brand: "webhook" });
    expect((await post(r, body, headers, r.url.replace("/hooks/engage", "/other"))).status).toBe(404);
    const get = await fetch(r.url);
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST");
    expect(r.received).toHaveLength(0);
  });

  it("keeps a body that is not JSON as text, and delays answers by latencyMs", async () => {
    const r = await receiver({ latencyMs: 150 });
    const headers = signedHeaders(r.secret, "x", "not json", { brand: "webhook" });
    const started = Date.now();
    expect((await post(r, "not json", headers)).status).toBe(204);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(r.received[0]?.body).toBe("not json");
  });

  it("refuses to start with a secret that svix cannot use", async () => {
    await expect(startFakeWebhookReceiver({ secret: "whsec_not base64!" })).rejects.toThrow();
  });
});
