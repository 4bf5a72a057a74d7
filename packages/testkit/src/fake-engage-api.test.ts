import { request } from "node:http";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FAKE_ENGAGE_API_KEY, type FakeEngageApi, startFakeEngageApi } from "./fake-engage-api.ts";

const GOOD_HEADERS = {
  apikey: FAKE_ENGAGE_API_KEY,
  "user-agent": "testkit/1.0",
  "content-type": "application/json",
};

let api: FakeEngageApi;
beforeEach(async () => {
  api = await startFakeEngageApi();
});
afterEach(async () => {
  await api.close();
});

async function get(path: string, headers: Record<string, string> = GOOD_HEADERS) {
  const response = await fetch(`${api.url}${path}`, { headers });
  return { status: response.status, headers: response.headers, body: (await response.json()) as unknown };
}

describe("fake Engage API", () => {
  it("answers a known contact like Engage", async () => {
    api.setContact("c 1", { email: "a@example.com", acceptsEmail: true, acceptsSms: false });
    expect(await get("/api/v3/contacts/c%201")).toMatchObject({
      status: 200,
      body: {
        id: "c 1",
        attributes: { email: "a@example.com", mobilePhone: null },
        preferences: { acceptsEmail: true, acceptsSms: false, acceptsPostal: null },
      },
    });
    expect(api.requests).toMatchObject([{ path: "/api/v3/contacts/c%201", status: 200 }]);
  });

  it("answers 404 ContactNotFound for an unknown or deleted contact", async () => {
    api.setContact("c1", {});
    api.deleteContact("c1");
    expect(await get("/api/v3/contacts/c1")).toMatchObject({
      status: 404,
      body: { errorCode: "ContactNotFound" },
    });
  });

  it("finds a contact id by e-mail", async () => {
    api.setContact("c1", { email: "a@example.com" });
    expect(await get("/api/v3/contacts/id?email=a%40example.com")).toMatchObject({ status: 200, body: "c1" });
    api.setContact("c2", { email: "a@example.com" });
    expect((await get("/api/v3/contacts/id?email=a%40example.com")).status).toBe(409);
    expect((await get("/api/v3/contacts/id?email=b%40example.com")).status).toBe(404);
  });

  it("checks headers the way Engage does", async () => {
    api.setContact("c1", {});
    const { apikey: _key, ...noKey } = GOOD_HEADERS;
    expect((await get("/api/v3/contacts/c1", noKey)).status).toBe(401);
    expect((await get("/api/v3/contacts/c1", { ...GOOD_HEADERS, apikey: "wrong" })).status).toBe(401);
    const { "content-type": _type, ...noType } = GOOD_HEADERS;
    expect((await get("/api/v3/contacts/c1", noType)).status).toBe(500);
    // fetch always sends a User-Agent; only a raw request can leave it out.
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${api.url}/api/v3/contacts/c1`, { headers: GOOD_HEADERS }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.removeHeader("user-agent");
      req.on("error", reject);
      req.end();
    });
    expect(status).toBe(400);
    expect(api.requests.map((r) => r.status)).toEqual([401, 401, 500, 400]);
  });

  it("injects failures with headers, then recovers", async () => {
    api.setContact("c1", {});
    api.failNext(2, 429, { "Retry-After": "1" });
    const first = await get("/api/v3/contacts/c1");
    expect(first.status).toBe(429);
    expect(first.headers.get("retry-after")).toBe("1");
    expect((await get("/api/v3/contacts/c1")).status).toBe(429);
    expect((await get("/api/v3/contacts/c1")).status).toBe(200);
    api.failNext(1);
    expect((await get("/api/v3/contacts/c1")).status).toBe(503);
  });

  it("delays answers by latencyMs and logs arrival times", async () => {
    api.setContact("c1", {});
    api.latencyMs = 100;
    const start = Date.now();
    expect((await get("/api/v3/contacts/c1")).status).toBe(200);
    const answered = Date.now();
    // The arrival time is logged when the request arrives, and the answer waits latencyMs after it
    // (no upper bound on how long the machine took to deliver the request: it may be busy).
    const [record] = api.requests;
    expect(record?.at).toBeGreaterThanOrEqual(start);
    expect(answered - (record?.at ?? answered)).toBeGreaterThanOrEqual(95);
  });

  it("accepts a custom API key and closes twice without error", async () => {
    const other = await startFakeEngageApi({ apiKey: "k2" });
    other.setContact("c1", {});
    const response = await fetch(`${other.url}/api/v3/contacts/c1`, {
      headers: { ...GOOD_HEADERS, apikey: "k2" },
    });
    expect(response.status).toBe(200);
    await other.close();
    await other.close();
  });
});
