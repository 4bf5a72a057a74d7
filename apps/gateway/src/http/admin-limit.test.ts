import { sampleEvent } from "@engage-bridge/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway } from "../test-support/harness.ts";

const TOKEN = "admin-token-limit-tests-0123456789";
let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway({ admin: { token: TOKEN } });
  for (let i = 0; i < 3; i++)
    expect((await gw.post(sampleEvent("loyalty.addPoints", { id: `ev-${i}` }))).status).toBe(204);
});
afterAll(async () => {
  await gw?.stop();
});

const events = (query: string) =>
  fetch(`${gw.url}/admin/events?${query}`, { headers: { authorization: `Bearer ${TOKEN}` } });

describe("GET /admin/events limit", () => {
  it.each(["limit=0", "limit=10001", "limit=abc", "limit=-1", "limit=1.5", "limit="])(
    "%s answers 400 with the contract's error body",
    async (query) => {
      const res = await events(query);
      expect(res.status).toBe(400);
      expect(res.headers.get("content-type")).toMatch(/application\/json/);
      const body = (await res.json()) as Record<string, unknown>;
      expect(Object.keys(body).sort()).toEqual(["error", "message"]);
      expect(body.error).toBe("bad_request");
      expect(body.message).toMatch(/limit/);
    },
  );

  it("limit=1 and limit=10000 work", async () => {
    const one = await events("limit=1");
    expect(one.status).toBe(200);
    const page = (await one.json()) as { items: unknown[]; nextCursor: string | null };
    expect(page.items).toHaveLength(1);
    expect(page.nextCursor).toEqual(expect.any(String));
    const max = await events("limit=10000");
    expect(max.status).toBe(200);
    expect(await max.json()).toMatchObject({ items: [{}, {}, {}], nextCursor: null });
  });
});
