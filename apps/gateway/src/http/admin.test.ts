import {
  createTestConnector,
  type FakeTarget,
  loadSamples,
  SAMPLE_PAYLOAD_KEY,
  sampleEvent,
  startFakeTarget,
} from "@engage-bridge/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway, waitFor } from "../test-support/harness.ts";

const TOKEN = "admin-token-for-tests-0123456789";
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function setup(
  admin = true,
  extra: Record<string, unknown> = {},
): Promise<{ gw: TestGateway; target: FakeTarget }> {
  const target = await startFakeTarget();
  cleanups.push(() => target.close());
  const gw = await startTestGateway(
    {
      connectors: { testTarget: { baseUrl: target.url } },
      delivery: { maxAttempts: 1 },
      ...(admin ? { admin: { token: TOKEN } } : {}),
      ...extra,
    },
    { connectors: [createTestConnector("testTarget")] },
  );
  cleanups.push(() => gw.stop());
  return { gw, target };
}

interface Page {
  items: { id: string; svixId: string; contactId: string }[];
  nextCursor: string;
}
// biome-ignore lint/suspicious/noExplicitAny: answers are checked by the assertions that follow
const json = async (res: Response | Promise<Response>): Promise<any> => (await res).json();

const call = (gw: TestGateway, path: string, init: RequestInit & { token?: string } = {}) =>
  fetch(`${gw.url}${path}`, {
    ...init,
    headers: {
      "content-type": "application/json",
      ...(init.token === "" ? {} : { authorization: `Bearer ${init.token ?? TOKEN}` }),
    },
  });

describe("admin API", () => {
  it("is off without admin.token", async () => {
    const { gw } = await setup(false);
    expect((await call(gw, "/admin/stats")).status).toBe(404);
    expect((await call(gw, "/admin/")).status).toBe(404);
  });

  it("refuses a missing or wrong token with 401 and never answers data", async () => {
    const { gw } = await setup();
    for (const token of ["", "wrong", `${TOKEN}x`, TOKEN.slice(0, -1)]) {
      const res = await call(gw, "/admin/events", { token });
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
      expect(await res.json()).toMatchObject({ error: "unauthorized" });
    }
  });

  it("shows stats, events and dead deliveries, and replays them", async () => {
    const { gw, target } = await setup();
    target.failAlways({ status: 500 });
    const body = sampleEvent("loyalty.addPoints");
    const eventId = JSON.parse(body).id as string;
    await gw.post(body);
    await waitFor(async () => (await gw.store.stats()).deliveries.testTarget?.dead === 1);

    const stats = await (await call(gw, "/admin/stats")).json();
    expect(stats).toMatchObject({
      events: { "loyalty.addPoints": 1 },
      deliveries: { testTarget: { dead: 1 } },
      queueDepth: 0,
      connectors: { testTarget: { healthy: true } },
    });
    const events = await (await call(gw, "/admin/events?limit=5&type=loyalty.addPoints")).json();
    expect(events).toMatchObject({ items: [{ id: eventId, status: "accepted" }], nextCursor: null });
    const dead = await (await call(gw, "/admin/deliveries?status=dead")).json();
    expect(dead).toMatchObject([{ eventId, connector: "testTarget", status: "dead", attempts: 1 }]);
    expect((await call(gw, "/admin/deliveries?status=lost")).status).toBe(400);
    expect((await call(gw, "/admin/replay", { method: "POST", body: "{}" })).status).toBe(400);

    target.failAlways(undefined);
    const replayed = await (
      await call(gw, "/admin/replay", { method: "POST", body: JSON.stringify({ event: eventId }) })
    ).json();
    expect(replayed).toEqual({ requeued: 1 });
    gw.engine?.wake(["testTarget"]);
    await waitFor(async () => (await gw.store.stats()).deliveries.testTarget?.delivered === 1);
    expect(target.state.get(`event:${eventId}`)).toBe("loyalty.addPoints");
  });

  it("serves the dashboard page without data, and no unknown admin route", async () => {
    const { gw } = await setup();
    const page = await call(gw, "/admin/", { token: "" });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/text\/html/);
    // No inline script or style anywhere: only the console's own files.
    const csp = page.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    const html = await page.text();
    expect(html).toContain("Admin token");
    expect(html).not.toMatch(/<script>|<style>| on[a-z]+=/);
    expect((await call(gw, "/admin/nothing")).status).toBe(404);
  });

  it("finds a contact's events exactly, a page at a time, and refuses malformed queries", async () => {
    const { gw } = await setup();
    for (const contactId of ["contact-7", "contact-7", "contact-7", "contact-70"])
      expect((await gw.post(sampleEvent("loyalty.addPoints", { contactId }))).status).toBe(204);
    const first: Page = await json(call(gw, "/admin/events?contact=contact-7&limit=2"));
    expect(first.items).toHaveLength(2);
    expect(first.items.every((e) => e.contactId === "contact-7")).toBe(true);
    expect(first.nextCursor).toEqual(expect.any(String));
    const next: Page = await json(
      call(gw, `/admin/events?contact=contact-7&limit=2&cursor=${encodeURIComponent(first.nextCursor)}`),
    );
    expect(next.items).toHaveLength(1);
    expect(next.nextCursor).toBeNull();
    const ids = [...first.items, ...next.items].map((e) => e.id);
    expect(new Set(ids).size).toBe(3);
    // By event id or svix id, exactly.
    const [one] = first.items;
    for (const id of [one?.id, one?.svixId])
      expect((await json(call(gw, `/admin/events?id=${id}`))).items).toMatchObject([{ id: one?.id }]);
    // The time range and the delivery filters narrow it down.
    const future = new Date(Date.now() + 60_000).toISOString();
    expect((await json(call(gw, `/admin/events?since=${future}`))).items).toEqual([]);
    for (const bad of [
      "limit=0",
      "limit=10001",
      "cursor=not-a-cursor",
      "since=yesterday",
      "deliveryStatus=lost",
      "colour=blue",
    ]) {
      const res = await call(gw, `/admin/events?${bad}`);
      expect(res.status, bad).toBe(400);
      expect(await res.json()).toMatchObject({ error: "bad_request" });
    }
  });

  it("shows one event with every attempt (target status, error, next attempt) and its payload on demand, decrypted", async () => {
    const { gw, target } = await setup(true, {
      sources: {
        engage: {
          signingSecrets: ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
          payloadKey: SAMPLE_PAYLOAD_KEY,
        },
      },
      delivery: { maxAttempts: 5 },
    });
    target.failNext(1, { status: 503 });
    const encrypted = loadSamples().find((s) => s.file.startsWith("encrypted."));
    if (!encrypted) throw new Error("no encrypted sample");
    await gw.post(encrypted.body);
    const { id } = JSON.parse(encrypted.body) as { id: string };
    await waitFor(async () => (await gw.store.stats()).deliveries.testTarget?.delivered === 1);

    expect((await call(gw, "/admin/events/no-such-event")).status).toBe(404);
    const res = await call(gw, `/admin/events/${id}`);
    expect(res.status).toBe(200);
    const detail = await json(res);
    expect(detail).toEqual({
      event: expect.objectContaining({
        id,
        source: "engage",
        type: "loyalty.addPoints",
        tenant: expect.anything(),
      }),
      deliveries: [
        {
          connector: "testTarget",
          status: "delivered",
          attempts: [
            expect.objectContaining({
              attempt: 1,
              outcome: "retry",
              targetStatus: 503,
              error: "target answered 503",
            }),
            expect.objectContaining({ attempt: 2, outcome: "delivered", error: null }),
          ],
          nextAttemptAt: null,
          lastError: null,
          updatedAt: expect.any(String),
        },
      ],
    });
    expect(detail.event).toHaveProperty("traceId");
    // The body is not part of the detail: it is personal data, shown only when asked for.
    expect(JSON.stringify(detail)).not.toContain("payload");
    const payload = await json(call(gw, `/admin/events/${id}/payload`));
    expect(payload.decrypted).toBe(true);
    expect(payload.body.payload).toEqual(expect.objectContaining({ contactId: expect.any(String) }));
    expect(gw.logs.some((l) => l.includes("admin: payload viewed"))).toBe(true);
    // Nobody without the token sees any of it.
    for (const path of [`/admin/events/${id}`, `/admin/events/${id}/payload`, "/admin/overview"])
      expect((await call(gw, path, { token: "wrong" })).status).toBe(401);
  });

  it("counts events and attempts per minute for the overview, and replays in bulk after a dry run", async () => {
    const { gw, target } = await setup();
    target.failAlways({ status: 500 });
    for (let i = 0; i < 3; i++) await gw.post(sampleEvent("loyalty.addPoints"));
    await waitFor(async () => (await gw.store.stats()).deliveries.testTarget?.dead === 3);

    const overview = await json(call(gw, "/admin/overview?window=hour"));
    expect(overview).toMatchObject({ window: "hour", bucketSeconds: 60, queueDepth: 0 });
    expect(overview.events).toHaveLength(60);
    expect(overview.events.reduce((n: number, b: { n: number }) => n + b.n, 0)).toBe(3);
    const buckets = overview.deliveries.testTarget as { dead: number }[];
    expect(buckets.reduce((n, b) => n + b.dead, 0)).toBe(3);
    expect((await json(call(gw, "/admin/overview?window=day"))).events).toHaveLength(96);
    expect((await call(gw, "/admin/overview?window=year")).status).toBe(400);

    const since = new Date(Date.now() - 3_600_000).toISOString();
    const dry = await call(gw, "/admin/replay", {
      method: "POST",
      body: JSON.stringify({ status: "dead", connector: "testTarget", since, dryRun: true }),
    });
    expect(await json(dry)).toEqual({ dryRun: true, matches: 3 });
    expect((await gw.store.stats()).deliveries.testTarget?.dead).toBe(3);
    target.failAlways(undefined);
    const done = await call(gw, "/admin/replay", {
      method: "POST",
      body: JSON.stringify({ status: "dead", connector: "testTarget", since }),
    });
    expect(await json(done)).toEqual({ requeued: 3 });
    gw.engine?.wake(["testTarget"]);
    await waitFor(async () => (await gw.store.stats()).deliveries.testTarget?.delivered === 3);
  });
});
