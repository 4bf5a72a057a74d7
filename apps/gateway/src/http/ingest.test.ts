import { encryptPayload } from "@engage-bridge/core";
import { loadSamples, SAMPLE_CONTACT_ID, SAMPLE_PAYLOAD_KEY, sampleEvent } from "@engage-bridge/testkit";
import { afterEach, describe, expect, it } from "vitest";
import {
  newMsgId,
  OTHER_SECRET,
  signed,
  startTestGateway,
  TEST_SECRET,
  type TestGateway,
} from "../test-support/harness.ts";

const running: TestGateway[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((g) => g.stop()));
});
async function gateway(config: Record<string, unknown> = {}) {
  // Ingest only: these tests look at the deliveries the route queues, not at their delivery.
  const gw = await startTestGateway(config, { role: "ingest" });
  running.push(gw);
  return gw;
}

const HUBSPOT = {
  hubspot: { enabled: true, accessToken: "hs-token-never-logged", subscriptionId: 123 },
  googleSheets: { enabled: true, spreadsheetId: "sheet-1", serviceAccount: "{}" },
};

async function expectError(res: Response, status: number, error: string) {
  expect(res.status).toBe(status);
  expect(await res.json()).toMatchObject({ error, message: expect.any(String) });
}

const rawSql = (gw: TestGateway) =>
  import("node:sqlite").then(({ DatabaseSync }) => new DatabaseSync(`${gw.dir}/test.db`, { readOnly: true }));

describe("accepted webhooks", () => {
  it("stores each sample type with one delivery per interested, enabled connector", async () => {
    const gw = await gateway({
      connectors: HUBSPOT,
      sources: { engage: { signingSecrets: [TEST_SECRET], payloadKey: SAMPLE_PAYLOAD_KEY } },
    });
    for (const sample of loadSamples()) {
      const res = await gw.post(sample.body);
      expect(res.status, sample.file).toBe(204);
      expect(await res.text()).toBe("");
    }
    const events = await gw.store.listEvents({ limit: 0 });
    expect(events).toHaveLength(7);
    expect(events.every((e) => e.status === "accepted" && e.contactId === SAMPLE_CONTACT_ID)).toBe(true);
    expect(events.map((e) => e.id)).toContain("e7f8a9b0-c1d2-4e3f-a405-6b7c8d9e0f56"); // eventId of the voucher
    const stats = await gw.store.stats();
    // 3 preference events → hubspot; 4 loyalty events (one encrypted) → googleSheets; sendgrid disabled.
    expect(stats.deliveries).toEqual({ hubspot: { pending: 3 }, googleSheets: { pending: 4 } });
    expect(stats.queueDepth).toBe(7);
  });

  it("answers 204 to a duplicate svix-id and stores nothing new", async () => {
    const gw = await gateway({ connectors: HUBSPOT });
    const body = sampleEvent("contact.acceptsEmail.changed");
    const msgId = newMsgId();
    expect((await gw.post(body, { msgId })).status).toBe(204);
    expect((await gw.post(body, { msgId })).status).toBe(204);
    // Concurrent redeliveries of one message land in one group commit: still one row.
    const other = newMsgId();
    const answers = await Promise.all(Array.from({ length: 10 }, () => gw.post(body, { msgId: other })));
    expect(answers.map((r) => r.status)).toEqual(Array(10).fill(204));
    expect(await gw.store.listEvents({ limit: 0 })).toHaveLength(2);
    expect((await gw.store.stats()).deliveries).toEqual({ hubspot: { pending: 2 } });
    expect(await gw.metrics.render()).toMatch(
      /engage_bridge_webhooks_accepted_total\{source="engage",outcome="duplicate",status="accepted"\} 10/,
    );
  });

  it("stores unknown event types as ignored, without deliveries", async () => {
    const gw = await gateway({ connectors: HUBSPOT });
    const body = JSON.stringify({ id: "u-1", eventType: "contact.created", payload: { contactId: "c-7" } });
    expect((await gw.post(body)).status).toBe(204);
    const [event] = await gw.store.listEvents({ limit: 0 });
    expect(event).toMatchObject({
      id: "u-1",
      type: "contact.created",
      status: "ignored",
      statusReason: "unknown_event_type",
      contactId: "c-7",
    });
    expect((await gw.store.stats()).queueDepth).toBe(0);
  });

  it.each([
    ["an empty body", "", "empty_body"],
    ["a text body", "hello engage", "not_json"],
    ["a JSON array", "[1,2,3]", "invalid_envelope"],
    [
      "a known type with a broken payload",
      '{"id":"x","eventType":"loyalty.addPoints","payload":{"amount":"lots"}}',
      "invalid_payload",
    ],
  ])("stores a validly signed body that is %s as ignored", async (_, body, reason) => {
    const gw = await gateway();
    const msgId = newMsgId();
    expect((await gw.post(body, { msgId })).status).toBe(204);
    const [event] = await gw.store.listEvents({ limit: 0 });
    expect(event).toMatchObject({ svixId: msgId, status: "ignored", statusReason: reason });
  });

  it("decrypts encrypted payloads with payloadKey and flags undecryptable ones without losing them", async () => {
    const gw = await gateway({
      connectors: HUBSPOT,
      sources: { engage: { signingSecrets: [TEST_SECRET], payloadKey: SAMPLE_PAYLOAD_KEY } },
    });
    const payload = JSON.stringify({ contactId: "c-enc", value: true });
    const good = JSON.stringify({
      id: "enc-1",
      eventType: "contact.acceptsEmail.changed",
      isEncrypted: true,
      payload: encryptPayload(payload, SAMPLE_PAYLOAD_KEY),
    });
    const bad = JSON.stringify({
      id: "enc-2",
      eventType: "contact.acceptsEmail.changed",
      isEncrypted: true,
      payload: encryptPayload(payload, "x".repeat(32)),
    });
    expect((await gw.post(good)).status).toBe(204);
    expect((await gw.post(bad)).status).toBe(204);
    const events = await gw.store.listEvents({ limit: 0 });
    expect(events.find((e) => e.id === "enc-1")).toMatchObject({ status: "accepted", contactId: "c-enc" });
    expect(events.find((e) => e.id === "enc-2")).toMatchObject({
      status: "undecryptable",
      statusReason: "undecryptable",
    });
    expect((await gw.store.stats()).deliveries).toEqual({ hubspot: { pending: 1 } });
  });

  it("accepts either secret during a rotation, and several v1 entries", async () => {
    const gw = await gateway({ sources: { engage: { signingSecrets: [OTHER_SECRET, TEST_SECRET] } } });
    expect((await gw.post(sampleEvent("loyalty.addPoints"), { secret: OTHER_SECRET })).status).toBe(204);
    expect((await gw.post(sampleEvent("loyalty.addPoints"), { secret: TEST_SECRET })).status).toBe(204);
    const body = sampleEvent("loyalty.addPoints");
    const msgId = newMsgId();
    const a = signed(body, { msgId, secret: "whsec_dGhpcyBpcyBhIHJldGlyZWQgc2VjcmV0IGtleSEh" });
    const b = signed(body, { msgId, secret: TEST_SECRET, timestamp: Number(a["svix-timestamp"]) });
    const res = await gw.post(body, {
      unsigned: true,
      headers: { ...b, "svix-signature": `${a["svix-signature"]} ${b["svix-signature"]}` },
    });
    expect(res.status).toBe(204);
    expect(await gw.store.listEvents({ limit: 0 })).toHaveLength(3);
  });

  it("accepts the webhook-* header brand", async () => {
    const gw = await gateway();
    const body = sampleEvent("point.balance.updated");
    const h = signed(body);
    const res = await gw.post(body, {
      unsigned: true,
      headers: {
        "webhook-id": h["svix-id"] ?? "",
        "webhook-timestamp": h["svix-timestamp"] ?? "",
        "webhook-signature": h["svix-signature"] ?? "",
      },
    });
    expect(res.status).toBe(204);
  });
});

describe("refused requests (contract HTTP table)", () => {
  it("404 for an unknown source, before the body is even read", async () => {
    const gw = await gateway({ server: { bodyLimit: "1kb" } });
    await expectError(await gw.post("x".repeat(4096), { source: "nope" }), 404, "unknown_source");
  });

  it("413 for a body over bodyLimit, even when unsigned", async () => {
    const gw = await gateway({ server: { bodyLimit: "1kb" } });
    await expectError(await gw.post("x".repeat(2048), { unsigned: true }), 413, "payload_too_large");
    expect(await gw.store.listEvents({ limit: 0 })).toHaveLength(0);
  });

  it.each([
    ["no signature headers", { unsigned: true }],
    ["a signature from another secret", { secret: OTHER_SECRET }],
    // The exact ±300 s boundary is tested in core with a fixed clock; here the clock runs.
    ["a stale timestamp", { timestamp: Math.floor(Date.now() / 1000) - 400 }],
    ["a future timestamp", { timestamp: Math.floor(Date.now() / 1000) + 400 }],
  ])("401 for %s", async (_, options) => {
    const gw = await gateway();
    await expectError(await gw.post(sampleEvent("loyalty.addPoints"), options), 401, "invalid_signature");
    expect(await gw.store.listEvents({ limit: 0 })).toHaveLength(0);
  });

  it("401 for a replayed signature over a changed body and for a non-integer timestamp", async () => {
    const gw = await gateway();
    const body = sampleEvent("loyalty.addPoints");
    const headers = signed(body);
    await expectError(
      await gw.post(body.replace("150.5", "99999"), { unsigned: true, headers }),
      401,
      "invalid_signature",
    );
    const ts = `${headers["svix-timestamp"]}abc`;
    await expectError(
      await gw.post(body, { unsigned: true, headers: { ...headers, "svix-timestamp": ts } }),
      401,
      "invalid_signature",
    );
  });

  it("403 for a required header that is missing or wrong, checked before the signature", async () => {
    const gw = await gateway({
      sources: {
        engage: { signingSecrets: [TEST_SECRET], requiredHeaders: { "x-engage-token": "t0ken-value" } },
      },
    });
    const body = sampleEvent("loyalty.addPoints");
    await expectError(await gw.post(body), 403, "forbidden");
    await expectError(
      await gw.post(body, { headers: { "x-engage-token": "t0ken-valuE" } }),
      403,
      "forbidden",
    );
    await expectError(
      await gw.post(body, { unsigned: true, headers: { "x-engage-token": "wrong" } }),
      403,
      "forbidden",
    );
    await expectError(
      await gw.post(body, { unsigned: true, headers: { "x-engage-token": "t0ken-value" } }),
      401,
      "invalid_signature",
    );
    expect((await gw.post(body, { headers: { "x-engage-token": "t0ken-value" } })).status).toBe(204);
  });

  it("429 with Retry-After over the source's rate limit, counted only for signed requests", async () => {
    const gw = await gateway({
      sources: { engage: { signingSecrets: [TEST_SECRET], rateLimit: { requests: 2, perSeconds: 60 } } },
    });
    await expectError(await gw.post("{}", { unsigned: true }), 401, "invalid_signature");
    expect((await gw.post(sampleEvent("loyalty.addPoints"))).status).toBe(204);
    expect((await gw.post(sampleEvent("loyalty.addPoints"))).status).toBe(204);
    const limited = await gw.post(sampleEvent("loyalty.addPoints"));
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    await expectError(limited, 429, "rate_limited");
    expect(await gw.store.listEvents({ limit: 0 })).toHaveLength(2);
  });

  it("503 when the store is unavailable, never 2xx; /readyz says not ready", async () => {
    const gw = await gateway();
    expect((await fetch(`${gw.url}/readyz`)).status).toBe(200);
    await gw.store.close();
    await expectError(await gw.post(sampleEvent("loyalty.addPoints")), 503, "store_unavailable");
    expect((await fetch(`${gw.url}/readyz`)).status).toBe(503);
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
  });
});

describe("IP allowlist", () => {
  const body = () => sampleEvent("loyalty.addPoints");

  it("403 for a client outside the list; X-Forwarded-For ignored without trustProxy", async () => {
    const gw = await gateway({
      sources: { engage: { signingSecrets: [TEST_SECRET], allowedIps: ["svix-eu", "10.1.0.0/16"] } },
    });
    await expectError(await gw.post(body()), 403, "ip_not_allowed");
    await expectError(
      await gw.post(body(), { headers: { "x-forwarded-for": "52.215.16.239" } }),
      403,
      "ip_not_allowed",
    );
  });

  it("uses X-Forwarded-For from a trusted proxy: svix-eu (IPv4 and IPv6) and CIDRs", async () => {
    const gw = await gateway({
      server: { trustProxy: ["127.0.0.1/8", "::1"] },
      sources: { engage: { signingSecrets: [TEST_SECRET], allowedIps: ["svix-eu", "10.1.0.0/16"] } },
    });
    for (const ip of [
      "52.215.16.239",
      "54.216.8.72",
      "63.33.109.123",
      "2a05:d028:17:80ff::1",
      "10.1.200.3",
    ]) {
      expect((await gw.post(body(), { headers: { "x-forwarded-for": ip } })).status, ip).toBe(204);
    }
    for (const ip of ["52.215.16.240", "2a05:d028:17:8100::1", "10.2.0.1", "not-an-ip"]) {
      await expectError(await gw.post(body(), { headers: { "x-forwarded-for": ip } }), 403, "ip_not_allowed");
    }
    // The client-most address behind a chain of trusted proxies is the one checked.
    expect((await gw.post(body(), { headers: { "x-forwarded-for": "10.1.0.9, 127.0.0.5" } })).status).toBe(
      204,
    );
    await expectError(
      await gw.post(body(), { headers: { "x-forwarded-for": "52.215.16.239, 8.8.8.8" } }),
      403,
      "ip_not_allowed",
    );
  });

  it("checks the IP before required headers and the signature", async () => {
    const gw = await gateway({
      sources: {
        engage: {
          signingSecrets: [TEST_SECRET],
          allowedIps: ["10.0.0.0/8"],
          requiredHeaders: { "x-t": "v" },
        },
      },
    });
    await expectError(await gw.post(body(), { unsigned: true }), 403, "ip_not_allowed");
  });
});

describe("after the answer", () => {
  it("keeps serving when the stored line cannot be logged: the event is stored and answered 204", async () => {
    const gw = await startTestGateway({}, { role: "ingest", refuseLogLines: /"msg":"webhook stored"/ });
    running.push(gw);
    const first = await gw.post(sampleEvent("loyalty.addPoints"));
    expect(first.status).toBe(204);
    const second = await gw.post(sampleEvent("contact.acceptsEmail.changed"));
    expect(second.status).toBe(204);
    expect(await gw.store.listEvents({ limit: 0 })).toHaveLength(2);
    const metrics = await gw.metrics.render();
    expect(metrics).toMatch(
      /engage_bridge_webhooks_accepted_total\{source="engage",outcome="stored",status="accepted"\} 2/,
    );
    const failures = gw.logs.filter((line) => line.includes("after a stored webhook's answer"));
    expect(failures).toHaveLength(2);
    expect(failures[0]).toContain('"level":"error"');
  });
});

describe("operations", () => {
  it("serves /healthz, /readyz and Prometheus metrics with rejections by reason", async () => {
    const gw = await gateway();
    await gw.post("{}", { unsigned: true });
    await gw.post(sampleEvent("loyalty.addPoints"));
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toMatch(/engage_bridge_webhooks_received_total\{source="engage"\} 2/);
    expect(metrics).toMatch(
      /engage_bridge_webhooks_rejected_total\{source="engage",reason="missing_headers"\} 1/,
    );
    expect(metrics).toMatch(
      /engage_bridge_webhooks_accepted_total\{source="engage",outcome="stored",status="accepted"\} 1/,
    );
    expect(metrics).toMatch(/engage_bridge_queue_depth 0/);
    expect(metrics).toMatch(/engage_bridge_ingest_duration_seconds_bucket/);
    expect(metrics).toMatch(/engage_bridge_ingest_commits_total 1\n/);
    expect(metrics).toMatch(/engage_bridge_ingest_committed_events_total 1\n/);
  });

  it("counts the group commits and the events in them, for the mean group size", async () => {
    const gw = await gateway();
    const answers = await Promise.all(
      Array.from({ length: 40 }, () => gw.post(sampleEvent("loyalty.addPoints"))),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(40).fill(204));
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toMatch(/engage_bridge_ingest_committed_events_total 40\n/);
    const commits = Number(/engage_bridge_ingest_commits_total (\d+)\n/.exec(metrics)?.[1]);
    expect(commits).toBeGreaterThanOrEqual(1);
    expect(commits).toBeLessThanOrEqual(40);
    expect(commits).toBe(gw.store.counters.commits);
  });

  it("logs no secret, email, contact id or header token", async () => {
    const token = "header-token-never-logged";
    const gw = await gateway({
      connectors: HUBSPOT,
      sources: {
        engage: {
          signingSecrets: [TEST_SECRET],
          requiredHeaders: { "x-engage-token": token },
          payloadKey: SAMPLE_PAYLOAD_KEY,
        },
      },
    });
    const contactId = "contact-4711-private";
    const email = "jane.doe@example.com";
    const bodies = [
      sampleEvent("contact.acceptsEmail.changed", { contactId, payload: { email } }),
      JSON.stringify({ id: "u", eventType: "contact.updated", payload: { contactId, email } }),
      JSON.stringify({
        id: "bad",
        eventType: "loyalty.addPoints",
        payload: { contactId, email, amount: "x" },
      }),
    ];
    for (const body of bodies) {
      expect((await gw.post(body, { headers: { "x-engage-token": token } })).status).toBe(204);
      await gw.post(body, { headers: { "x-engage-token": "wrong" } });
      await gw.post(body, { secret: OTHER_SECRET, headers: { "x-engage-token": token } });
    }
    await gw.store.close();
    await gw.post(bodies[0] ?? "", { headers: { "x-engage-token": token } });
    const logs = gw.logs.join("\n");
    expect(gw.logs.length).toBeGreaterThan(5);
    for (const secret of [
      TEST_SECRET,
      TEST_SECRET.slice(6),
      token,
      contactId,
      email,
      "hs-token-never-logged",
      SAMPLE_PAYLOAD_KEY,
    ]) {
      expect(logs).not.toContain(secret);
    }
    expect(logs).toContain("webhook stored");
  });

  it("keeps the raw body exactly as signed", async () => {
    const gw = await gateway();
    const body = `{"id":"raw-1","eventType":"x.y","payload":{"k":"å ✓"}}  `;
    expect((await gw.post(body)).status).toBe(204);
    const db = await rawSql(gw);
    const row = db.prepare("SELECT body FROM events WHERE event_id = 'raw-1'").get() as { body: Uint8Array };
    db.close();
    expect(Buffer.from(row.body).toString("utf8")).toBe(body);
  });
});
