import type { ForwardedEvent } from "@engage-bridge/connector-webhook";
import { createVerifier } from "@engage-bridge/core";
import {
  type FakeWebhookReceiver,
  type ReceivedWebhook,
  sampleEvent,
  startFakeWebhookReceiver,
} from "@engage-bridge/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway, waitFor } from "../test-support/harness.ts";

/**
 * The webhook connector end to end: signed Engage webhooks into a real gateway (SQLite store,
 * delivery engine) without an Engage API, forwarded to the fake Standard Webhooks receiver of
 * @engage-bridge/testkit, which verifies every request with `svix` (and these tests again with core).
 */

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

type Status = "delivered" | "skipped" | "dead" | "retrying" | "pending";

async function receiver(options: Parameters<typeof startFakeWebhookReceiver>[0] = {}) {
  const r = await startFakeWebhookReceiver(options);
  cleanups.push(() => r.close());
  return r;
}

async function gateway(r: FakeWebhookReceiver, block: Record<string, unknown> = {}): Promise<TestGateway> {
  // No `engageApi` on the source: nothing is looked up, every event goes out as received.
  const gw = await startTestGateway({ connectors: { webhook: { url: r.url, secret: r.secret, ...block } } });
  cleanups.push(() => gw.stop());
  return gw;
}

const count = async (gw: TestGateway, status: Status) =>
  (await gw.store.stats()).deliveries.webhook?.[status as "delivered"] ?? 0;

const settled = (gw: TestGateway, n: number, status: Status = "delivered") =>
  waitFor(async () => (await count(gw, status)) >= n, 20_000, `${n} ${status} webhook deliveries`);

/** The Engage event id of a body (`id ?? eventId`: the samples use either). */
const idOf = (body: string) => {
  const envelope = JSON.parse(body) as { id?: string; eventId?: string };
  return envelope.id ?? envelope.eventId ?? "";
};

/** Verifies a received request again with core's verifier (the fake checked it with `svix`'s). */
function verifiedByCore(r: FakeWebhookReceiver, got: ReceivedWebhook): boolean {
  try {
    return createVerifier({ secrets: [r.secret] }).verify(got.raw, got.headers).brand === "webhook";
  } catch {
    return false;
  }
}

describe("webhook connector through the gateway", () => {
  it("two preference changes of one contact: both arrive, each under its own id with its own payload, the older one retried after the newer", async () => {
    const r = await receiver();
    const gw = await gateway(r);
    const older = sampleEvent("contact.acceptsEmail.changed", {
      contactId: "c-1",
      payload: { value: false, changedAt: "2026-11-28T09:00:00Z" },
    });
    const newer = sampleEvent("contact.acceptsEmail.changed", {
      contactId: "c-1",
      payload: { value: true, changedAt: "2026-11-28T10:00:00Z" },
    });
    // The older change meets an endpoint that is briefly down: 503 twice, come back in a second.
    r.failNext(503, { id: idOf(older), times: 2, headers: { "retry-after": "1" } });
    expect((await gw.post(older)).status).toBe(204);
    await waitFor(() => r.received.length >= 1, 10_000, "the first attempt");
    // The newer change arrives while the older one waits for its retry.
    expect((await gw.post(newer)).status).toBe(204);
    await settled(gw, 2);

    const accepted = r.accepted();
    // A forwarder is not convergent: the older change is neither skipped nor rewritten to the newer.
    expect(accepted.map((x) => x.id)).toEqual([idOf(newer), idOf(older)]);
    for (const got of accepted) {
      expect(got.verified).toBe(true);
      expect(verifiedByCore(r, got)).toBe(true);
      expect((got.body as ForwardedEvent).id).toBe(got.id);
    }
    const [newerBody, olderBody] = accepted.map((x) => x.body as ForwardedEvent);
    expect(olderBody).toMatchObject({
      type: "contact.acceptsEmail.changed",
      contactId: "c-1",
      encrypted: false,
      payload: { value: false, changedAt: "2026-11-28T09:00:00Z" },
    });
    expect(newerBody).toMatchObject({
      contactId: "c-1",
      payload: { value: true, changedAt: "2026-11-28T10:00:00Z" },
    });
    // Every attempt of the older one carried the same webhook-id (the receiver's idempotency key).
    expect(r.received.filter((x) => x.id === idOf(older)).map((x) => x.status)).toEqual([503, 503, 204]);
    // The retry waited as asked.
    const attempts = r.received.filter((x) => x.id === idOf(older));
    expect((attempts[1]?.at ?? 0) - (attempts[0]?.at ?? 0)).toBeGreaterThanOrEqual(900);

    const rows = await gw.store.listDeliveries({ connector: "webhook", limit: 0 });
    expect(rows.map((row) => [row.eventId, row.status, row.attempts]).sort()).toEqual(
      [
        [idOf(older), "delivered", 3],
        [idOf(newer), "delivered", 1],
      ].sort(),
    );
    expect((await gw.store.stats()).deliveries.webhook).toEqual({ delivered: 2 });
    // Logs carry neither the secret nor the contact.
    expect(gw.logs.join("\n")).not.toContain(r.secret);
    expect(gw.logs.join("\n")).not.toMatch(/"c-1"/);
  });

  it("batch mode: several events in one request, a JSON array, each element under its own id", async () => {
    // A receiver that takes its time: events queue up while a request is on the wire.
    const r = await receiver({ latencyMs: 400 });
    const gw = await gateway(r, { batch: true, headers: { "x-api-key": "erp-key-0001" } });
    const bodies = [
      sampleEvent("contact.acceptsSms.changed", { payload: { value: true } }),
      sampleEvent("loyalty.addPoints", { contactId: "c-2" }),
      sampleEvent("point.balance.updated"),
      sampleEvent("reward.voucher.created", { tenant: "brand-b" }),
      sampleEvent("contact.acceptsPostal.changed", { payload: { value: false } }),
      sampleEvent("loyalty.addPoints", { contactId: "c-3" }),
    ];
    const answers = await Promise.all(bodies.map((b) => gw.post(b)));
    expect(answers.map((a) => a.status)).toEqual(Array(bodies.length).fill(204));
    await settled(gw, bodies.length);

    const accepted = r.accepted();
    expect(accepted.length).toBeLessThanOrEqual(2);
    expect(Math.max(...accepted.map((x) => (x.body as unknown[]).length))).toBeGreaterThan(1);
    for (const got of accepted) {
      expect(got.verified).toBe(true);
      expect(verifiedByCore(r, got)).toBe(true);
      expect(got.id).toMatch(/^batch_[0-9a-f]{32}$/);
      expect(got.headers["x-api-key"]).toBe("erp-key-0001");
      expect(Array.isArray(got.body)).toBe(true);
    }
    const elements = accepted.flatMap((x) => x.body as ForwardedEvent[]);
    expect(elements.map((e) => e.id).sort()).toEqual(bodies.map(idOf).sort());
    const voucher = elements.find((e) => e.type === "reward.voucher.created");
    expect(voucher).toMatchObject({ tenant: "brand-b", encrypted: false });
    expect(typeof voucher?.receivedAt).toBe("string");
    expect((await gw.store.stats()).deliveries.webhook).toEqual({ delivered: bodies.length });
    expect(gw.logs.join("\n")).not.toContain("erp-key-0001");
  });

  it("410 Gone: the delivery is dead and the connector unhealthy in /readyz and the metrics, until a request passes", async () => {
    const r = await receiver();
    const gw = await gateway(r);
    r.failNext(410, { body: { error: "endpoint removed" } });
    await gw.post(sampleEvent("loyalty.addPoints"));
    await settled(gw, 1, "dead");
    const [row] = await gw.store.listDeliveries({ connector: "webhook", status: "dead", limit: 0 });
    expect(row?.lastError).toBe(
      'webhook endpoint answered 410 (Gone: the receiver removed this endpoint): {"error":"endpoint removed"}',
    );
    expect(row?.attempts).toBe(1);

    const ready = await fetch(`${gw.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      connectors: { webhook: { healthy: false, reason: expect.stringMatching(/answered 410 \(Gone/) } },
    });
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toMatch(/engage_bridge_connector_healthy\{connector="webhook"\} 0/);

    // The endpoint is back: the next delivery makes the connector healthy again.
    await gw.post(sampleEvent("loyalty.addPoints"));
    await settled(gw, 1);
    expect(gw.engine?.health().webhook?.healthy).toBe(true);
    expect(await (await fetch(`${gw.url}/metrics`)).text()).toMatch(
      /engage_bridge_connector_healthy\{connector="webhook"\} 1/,
    );
  });
});
