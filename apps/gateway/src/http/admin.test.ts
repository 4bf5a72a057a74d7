import { createTestConnector, type FakeTarget, sampleEvent, startFakeTarget } from "@engage-bridge/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway, waitFor } from "../test-support/harness.ts";

const TOKEN = "admin-token-for-tests-0123456789";
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function setup(admin = true): Promise<{ gw: TestGateway; target: FakeTarget }> {
  const target = await startFakeTarget();
  cleanups.push(() => target.close());
  const gw = await startTestGateway(
    {
      connectors: { testTarget: { baseUrl: target.url } },
      delivery: { maxAttempts: 1 },
      ...(admin ? { admin: { token: TOKEN } } : {}),
    },
    { connectors: [createTestConnector("testTarget")] },
  );
  cleanups.push(() => gw.stop());
  return { gw, target };
}

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
    expect(events).toMatchObject([{ id: eventId, status: "accepted" }]);
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
    expect(page.headers.get("content-security-policy")).toContain("default-src 'self'");
    const html = await page.text();
    expect(html).toContain("Admin token");
    expect(html).toContain("/admin/stats");
    expect((await call(gw, "/admin/nothing")).status).toBe(404);
  });
});
