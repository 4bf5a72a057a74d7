import { defineConnector, delivered } from "@engage-bridge/core";
import { createEngageClient } from "@engage-bridge/engage-api";
import {
  createTestConnector,
  type FakeTarget,
  sampleEvent,
  startFakeEngageApi,
  startFakeTarget,
} from "@engage-bridge/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { startTestGateway, type TestGateway, waitFor } from "../test-support/harness.ts";
import type { SourceRuntime } from "./connector-worker.ts";

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function target(latencyMs = 0): Promise<FakeTarget> {
  const t = await startFakeTarget({ latencyMs });
  cleanups.push(() => t.close());
  return t;
}

async function gateway(
  targets: Record<string, FakeTarget>,
  options: {
    delivery?: Record<string, unknown>;
    sources?: Map<string, SourceRuntime>;
    maxBatchSize?: number;
  } = {},
): Promise<TestGateway> {
  const connectors = Object.keys(targets).map((name) =>
    createTestConnector(name, { maxBatchSize: options.maxBatchSize }),
  );
  const gw = await startTestGateway(
    {
      connectors: Object.fromEntries(Object.entries(targets).map(([name, t]) => [name, { baseUrl: t.url }])),
      delivery: options.delivery ?? {},
    },
    { connectors, sources: options.sources },
  );
  cleanups.push(() => gw.stop());
  return gw;
}

const settled = (gw: TestGateway, connector: string, count: number, status = "delivered") =>
  waitFor(
    async () => {
      const stats = await gw.store.stats();
      return (stats.deliveries[connector]?.[status as "delivered"] ?? 0) >= count;
    },
    20_000,
    `${count} ${status} deliveries of ${connector}`,
  );

const preference = (contactId: string, value: boolean, changedAt?: string) =>
  sampleEvent("contact.acceptsEmail.changed", {
    contactId,
    payload: { value, ...(changedAt ? { changedAt } : {}) },
  });

describe("delivery engine", () => {
  it("hands each instance the state its init returned (contract v2), two instances of one type apart", async () => {
    const seen: { instance: string; state: unknown }[] = [];
    const stateful = defineConnector({
      name: "stateful",
      configSchema: z.strictObject({ label: z.string() }),
      handles: ["loyalty.addPoints"],
      async init(config) {
        return { client: `client for ${config.label}`, createdAt: Date.now() };
      },
      async deliver(items, ctx) {
        seen.push({ instance: ctx.config.label, state: ctx.state });
        return items.map(() => delivered());
      },
    });
    const gw = await startTestGateway(
      {
        connectors: {
          stateful: { label: "a" },
          statefulB: { type: "stateful", label: "b" },
        },
      },
      { connectors: [stateful] },
    );
    cleanups.push(() => gw.stop());
    expect((await gw.post(sampleEvent("loyalty.addPoints"))).status).toBe(204);
    await settled(gw, "stateful", 1);
    await settled(gw, "statefulB", 1);
    expect(seen.map((s) => [s.instance, (s.state as { client: string }).client]).sort()).toEqual([
      ["a", "client for a"],
      ["b", "client for b"],
    ]);
  });

  it("delivers everything after failed first attempts, in batches", async () => {
    const t = await target();
    t.failNext(2, { status: 503 });
    const gw = await gateway({ testTarget: t });
    const bodies = Array.from({ length: 20 }, () => sampleEvent("loyalty.addPoints"));
    const ids = bodies.map((b) => JSON.parse(b).id as string);
    // Concurrent posts share a commit, so the worker finds them queued together.
    const answers = await Promise.all(bodies.map((b) => gw.post(b)));
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(204));
    await settled(gw, "testTarget", 20);
    expect([...t.state.keys()].sort()).toEqual(ids.map((id) => `event:${id}`).sort());
    expect(t.requests.filter((r) => r.status === 503)).toHaveLength(2);
    // Fewer calls than events: batching.
    expect(t.requests.length).toBeLessThan(20);
    const rows = await gw.store.listDeliveries({ connector: "testTarget", limit: 0 });
    expect(rows.every((r) => r.status === "delivered" && r.lastError === null)).toBe(true);
    expect(Math.max(...rows.map((r) => r.attempts))).toBeGreaterThanOrEqual(2);
  });

  it("never retries earlier than a 429's Retry-After", async () => {
    const t = await target();
    t.failNext(1, { status: 429, headers: { "retry-after": "1" }, body: { error: "too many" } });
    const gw = await gateway({ testTarget: t });
    await gw.post(sampleEvent("point.balance.updated"));
    await settled(gw, "testTarget", 1);
    const [limited, next] = t.requests;
    expect(limited?.status).toBe(429);
    expect(next?.status).toBe(200);
    expect((next?.at ?? 0) - (limited?.answeredAt ?? 0)).toBeGreaterThanOrEqual(1000);
  });

  it("does not count throttled calls toward maxAttempts", async () => {
    const t = await target();
    t.failNext(2, { status: 429, headers: { "retry-after": "1" }, body: { error: "too many" } });
    const gw = await gateway({ testTarget: t }, { delivery: { maxAttempts: 1 } });
    await gw.post(sampleEvent("loyalty.addPoints"));
    await settled(gw, "testTarget", 1);
    expect(t.requests.map((r) => r.status)).toEqual([429, 429, 200]);
    const [row] = await gw.store.listDeliveries({ connector: "testTarget", limit: 0 });
    expect(row).toMatchObject({ status: "delivered", attempts: 1 });
  });

  it("ends a delivery dead after maxAttempts; replay delivers it once the target recovers", async () => {
    const t = await target();
    t.failAlways({ status: 500 });
    const gw = await gateway({ testTarget: t }, { delivery: { maxAttempts: 3 } });
    const body = sampleEvent("reward.voucher.created");
    const eventId = JSON.parse(body).eventId as string;
    await gw.post(body);
    await settled(gw, "testTarget", 1, "dead");
    expect(t.requests).toHaveLength(3);
    const [row] = await gw.store.listDeliveries({ connector: "testTarget", limit: 0 });
    expect(row).toMatchObject({ eventId, status: "dead", attempts: 3, nextAttemptAt: null });
    expect(row?.lastError).toMatch(/gave up after 3 attempts: target answered 500/);

    t.failAlways(undefined);
    expect(await gw.store.replay({ status: "dead" })).toBe(1);
    gw.engine?.wake(["testTarget"]);
    await settled(gw, "testTarget", 1);
    expect(t.state.get(`event:${eventId}`)).toBe("reward.voucher.created");
    expect(await gw.store.replay({ status: "dead" })).toBe(0);
  });

  it("marks a batch dead on a permanent error without retrying", async () => {
    const t = await target();
    t.failAlways({ status: 400 });
    const gw = await gateway({ testTarget: t });
    await gw.post(sampleEvent("loyalty.addPoints"));
    await settled(gw, "testTarget", 1, "dead");
    expect(t.requests).toHaveLength(1);
  });

  it("does not let a 5-second target delay another connector", async () => {
    const slow = await target(5_000);
    const fast = await target();
    const gw = await gateway({ slowTarget: slow, fastTarget: fast }, { maxBatchSize: 1 });
    for (let i = 0; i < 10; i++) await gw.post(sampleEvent("loyalty.addPoints"));
    await settled(gw, "fastTarget", 10);
    // All of the fast target's work was answered while the slow one was still on its first call.
    const firstSlowAnswer = await waitFor(() => slow.requests[0]?.answeredAt, 20_000, "slow answer");
    const lastFastAnswer = Math.max(...fast.requests.map((r) => r.answeredAt));
    expect(fast.requests).toHaveLength(10);
    expect(lastFastAnswer).toBeLessThan(firstSlowAnswer);
    expect(slow.requests[0]?.at ?? 0).toBeLessThan(lastFastAnswer);
  });

  it("converges consent without the Engage API: an older change arriving later is skipped", async () => {
    const t = await target();
    const gw = await gateway({ testTarget: t });
    await gw.post(preference("c-1", false, "2026-11-28T10:00:00Z"));
    await settled(gw, "testTarget", 1);
    await gw.post(preference("c-1", true, "2026-11-28T09:00:00Z"));
    await settled(gw, "testTarget", 1, "skipped");
    expect(t.state.get("c-1:email")).toBe(false);
    const skipped = await gw.store.listDeliveries({ status: "skipped", limit: 0 });
    expect(skipped[0]?.lastError).toMatch(/newer preference change was already applied/);
    // A genuinely newer change still applies.
    await gw.post(preference("c-1", true, "2026-11-28T11:00:00Z"));
    await settled(gw, "testTarget", 2);
    expect(t.state.get("c-1:email")).toBe(true);
  });

  it("tells the connector when an earlier lease may have reached the target (maybeSentBefore)", async () => {
    const seen: { attempt: number; maybeSentBefore: boolean | undefined }[] = [];
    const flaky = defineConnector({
      name: "flaky",
      configSchema: z.strictObject({}),
      handles: ["loyalty.addPoints"],
      async deliver(items) {
        for (const item of items) seen.push({ attempt: item.attempt, maybeSentBefore: item.maybeSentBefore });
        if (seen.length === 1) throw new Error("connection reset after the request was sent");
        return items.map(() => delivered());
      },
    });
    const gw = await startTestGateway({ connectors: { flaky: {} } }, { connectors: [flaky] });
    cleanups.push(() => gw.stop());
    expect((await gw.post(sampleEvent("loyalty.addPoints"))).status).toBe(204);
    await settled(gw, "flaky", 1);
    expect(seen).toEqual([
      { attempt: 1, maybeSentBefore: false },
      { attempt: 2, maybeSentBefore: true },
    ]);
  });

  it("gives a connector that does not declare convergent consent every preference event as sent, under its own id", async () => {
    const t = await target();
    const forwarder = createTestConnector("forwarder", { convergentConsent: false });
    const gw = await startTestGateway(
      { connectors: { forwarder: { baseUrl: t.url } } },
      { connectors: [forwarder] },
    );
    cleanups.push(() => gw.stop());
    await gw.post(preference("c-3", false, "2026-11-28T10:00:00Z"));
    await settled(gw, "forwarder", 1);
    // Older, arriving later: a forwarder still gets it (no skip, no rewrite into the newer event).
    await gw.post(preference("c-3", true, "2026-11-28T09:00:00Z"));
    await settled(gw, "forwarder", 2);
    expect(t.state.get("c-3:email")).toBe(true);
    expect(await gw.store.listDeliveries({ status: "skipped", limit: 0 })).toEqual([]);
  });

  it("converges consent with the Engage API: the current value is applied whatever the order", async () => {
    const t = await target();
    const engage = await startFakeEngageApi({ apiKey: "engage-key" });
    cleanups.push(() => engage.close());
    engage.setContact("c-2", { email: "c2@example.com", acceptsEmail: false });
    const client = createEngageClient({ baseUrl: engage.url, apiKey: "engage-key", cacheTtlMs: 0 });
    const gw = await gateway(
      { testTarget: t },
      { sources: new Map([["engage", { payloadKey: undefined, lookup: client.lookup }]]) },
    );
    // The newer unsubscribe first, then the older subscribe (no change times at all).
    await gw.post(preference("c-2", false));
    await settled(gw, "testTarget", 1);
    await gw.post(preference("c-2", true));
    await settled(gw, "testTarget", 2);
    expect(t.state.get("c-2:email")).toBe(false);
    expect(engage.requests.filter((r) => r.path.includes("c-2")).length).toBeGreaterThanOrEqual(2);
  });
});
