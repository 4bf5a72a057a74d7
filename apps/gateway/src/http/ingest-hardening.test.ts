import { connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { newMsgId, startTestGateway, TEST_SECRET, type TestGateway } from "../test-support/harness.ts";

const running: TestGateway[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((g) => g.stop()));
});
async function gateway(config: Record<string, unknown> = {}) {
  const gw = await startTestGateway(config, { role: "ingest" });
  running.push(gw);
  return gw;
}

const ADMIN_TOKEN = "admin-token-for-tests-0123456789";
/** Every key of Object.prototype, and the ones JSON.parse makes own properties. */
const PROTOTYPE_KEYS = [
  ...new Set([...Object.getOwnPropertyNames(Object.prototype), "__proto__", "prototype"]),
];

const metricValue = (text: string, line: RegExp) => Number(line.exec(text)?.[1] ?? Number.NaN);

/**
 * Sends a request's head and part of its body on a raw socket and leaves the rest unsent, then
 * resolves with whatever the server answers before `waitMs` (empty when it answered nothing).
 */
function partialRequest(
  url: string,
  head: Record<string, string>,
  sentBytes: number,
  waitMs: number,
): { answer: Promise<string>; finish: (rest: number) => void; close: () => void } {
  const { hostname, port, pathname } = new URL(url);
  const socket = connect(Number(port), hostname);
  let received = "";
  socket.on("data", (d) => {
    received += d;
  });
  socket.on("error", () => {});
  const lines = [
    `POST ${pathname} HTTP/1.1`,
    `Host: ${hostname}:${port}`,
    ...Object.entries(head).map(([k, v]) => `${k}: ${v}`),
  ];
  socket.write(`${lines.join("\r\n")}\r\n\r\n${"x".repeat(sentBytes)}`);
  const answer = new Promise<string>((resolve) => {
    const done = () => resolve(received);
    socket.on("close", done);
    setTimeout(done, waitMs);
  });
  return { answer, finish: (rest) => socket.write("x".repeat(rest)), close: () => socket.destroy() };
}

describe("every validly signed body is stored", () => {
  it("stores event types named like Object.prototype members as ignored unknown types, answered 204", async () => {
    const gw = await gateway({ admin: { token: ADMIN_TOKEN } });
    for (const type of PROTOTYPE_KEYS) {
      const body = `{"id":"e-${type}","eventType":${JSON.stringify(type)},"payload":{"contactId":"c-1"}}`;
      const res = await gw.post(body);
      expect(res.status, type).toBe(204);
    }
    const events = await gw.store.listEvents({ limit: 0 });
    expect(events).toHaveLength(PROTOTYPE_KEYS.length);
    expect(events.every((e) => e.status === "ignored" && e.statusReason === "unknown_event_type")).toBe(true);
    expect(events.every((e) => e.contactId === "c-1")).toBe(true);

    // Counted under their own names by the store and by the admin API, `__proto__` included.
    const expected = Object.fromEntries(PROTOTYPE_KEYS.map((k) => [k, 1]));
    expect(Object.entries((await gw.store.stats()).events).sort()).toEqual(Object.entries(expected).sort());
    const admin = await fetch(`${gw.url}/admin/stats`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    const text = await admin.text();
    const parsed = JSON.parse(text) as { events: Record<string, number> };
    expect(Object.keys(parsed.events).sort()).toEqual(PROTOTYPE_KEYS.sort());
    expect(text).toContain('"__proto__":1');
  });

  it("stores a body whose payload keys are __proto__ and constructor", async () => {
    const gw = await gateway();
    const body =
      '{"id":"e-p","eventType":"loyalty.addPoints","payload":{"__proto__":{"x":1},"constructor":1,"contactId":"c-9","amount":2}}';
    expect((await gw.post(body)).status).toBe(204);
    expect(await gw.store.listEvents({ limit: 0 })).toMatchObject([{ status: "accepted", contactId: "c-9" }]);
  });
});

describe("metrics", () => {
  it("records each request once in the ingest latency histogram, and names process metrics once", async () => {
    const gw = await gateway();
    for (let i = 0; i < 5; i++)
      expect((await gw.post(`{"id":"m${i}","eventType":"x","payload":{}}`)).status).toBe(204);
    expect((await gw.post("{}", { unsigned: true })).status).toBe(401);
    expect((await fetch(`${gw.url}/webhooks/nowhere`, { method: "POST", body: "{}" })).status).toBe(404);
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    const count = (labels: string) =>
      metricValue(
        text,
        new RegExp(`^engage_bridge_ingest_duration_seconds_count\\{${labels}\\} (\\S+)$`, "m"),
      );
    expect(count('source="engage",code="204"')).toBe(5);
    expect(count('source="engage",code="401"')).toBe(1);
    expect(count('source="unknown",code="404"')).toBe(1);
    expect(text).toMatch(/^engage_bridge_process_cpu_seconds_total /m);
    expect(text).toMatch(/^engage_bridge_nodejs_heap_size_used_bytes /m);
    expect(text).not.toContain("process_process");
  });
});

describe("bodies are read only when they may be kept", () => {
  it("refuses a client outside allowedIps before reading its body", async () => {
    const gw = await gateway({
      sources: { engage: { signingSecrets: [TEST_SECRET], allowedIps: ["10.9.8.7"] } },
    });
    const request = partialRequest(
      `${gw.url}/webhooks/engage`,
      { "content-type": "application/json", "content-length": "500000" },
      100,
      5_000,
    );
    const answer = await request.answer;
    request.close();
    expect(answer).toMatch(/^HTTP\/1\.1 403 /);
    expect(answer).toContain("ip_not_allowed");
  });

  it("answers 503 with Retry-After when bodies in flight would exceed server.maxInflightBytes", async () => {
    const gw = await gateway({ server: { bodyLimit: "16kb", maxInflightBytes: "20kb" } });
    // One slow client holds 15 KB of the 20 KB budget...
    const slow = partialRequest(
      `${gw.url}/webhooks/engage`,
      { "content-type": "application/json", "content-length": "15000", connection: "close" },
      1_000,
      10_000,
    );
    await new Promise((r) => setTimeout(r, 100));
    // ...so another 15 KB body does not fit now.
    const body = JSON.stringify({ id: "big", eventType: "x", payload: { pad: "y".repeat(14_900) } });
    const refused = await gw.post(body);
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBe("1");
    expect(await refused.json()).toMatchObject({ error: "overloaded" });
    // Once the slow body is done (refused: unsigned), its bytes are given back.
    slow.finish(14_000);
    expect(await slow.answer).toMatch(/^HTTP\/1\.1 401 /);
    slow.close();
    expect((await gw.post(body)).status).toBe(204);
  });
});

describe("redeliveries", () => {
  it("keeps the stored body when a redelivery's body differs: warns without the body, counts it", async () => {
    const gw = await gateway();
    const msgId = newMsgId();
    const first = '{"id":"e-r","eventType":"loyalty.addPoints","payload":{"contactId":"c-1","amount":1}}';
    const second =
      '{"id":"e-r","eventType":"loyalty.addPoints","payload":{"contactId":"c-1","amount":999,"note":"forged-text-77"}}';
    expect((await gw.post(first, { msgId })).status).toBe(204);
    expect((await gw.post(second, { msgId })).status).toBe(204);
    expect((await gw.post(first, { msgId })).status).toBe(204);
    expect(Buffer.from((await gw.store.storedBody("engage", msgId)) ?? []).toString()).toBe(first);
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    expect(
      metricValue(
        text,
        /^engage_bridge_webhooks_redelivered_different_body_total\{source="engage"\} (\S+)$/m,
      ),
    ).toBe(1);
    const warnings = gw.logs.filter((l) => l.includes("different body"));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(msgId);
    expect(gw.logs.join("\n")).not.toContain("forged-text-77");
  });

  it("answers redeliveries before the source rate limit, so they spend no budget", async () => {
    const gw = await gateway({
      sources: { engage: { signingSecrets: [TEST_SECRET], rateLimit: { requests: 1, perSeconds: 60 } } },
    });
    const msgId = newMsgId();
    const body = '{"id":"e-d","eventType":"x","payload":{}}';
    expect((await gw.post(body, { msgId })).status).toBe(204);
    for (let i = 0; i < 5; i++) expect((await gw.post(body, { msgId })).status).toBe(204);
    // The one request of the budget went to the first delivery; a new message is limited.
    const limited = await gw.post('{"id":"e-n","eventType":"x","payload":{}}');
    expect(limited.status).toBe(429);
    expect(await gw.store.listEvents({ limit: 0 })).toHaveLength(1);
  });
});
