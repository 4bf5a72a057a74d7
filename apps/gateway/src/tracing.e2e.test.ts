import { once } from "node:events";
import { type AddressInfo, createServer, type Socket } from "node:net";
import {
  type FakeEngageApi,
  type FakeSendGrid,
  type FakeWebhookReceiver,
  sampleEvent,
  startFakeEngageApi,
  startFakeSendGrid,
  startFakeWebhookReceiver,
} from "@engage-bridge/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { openStore } from "./store/open.ts";
import {
  type ChildGateway,
  freePort,
  killChildren,
  newMsgId,
  signed,
  spawnGateway,
  TEST_SECRET,
  tempDir,
  waitFor,
  writeChildConfig,
} from "./test-support/harness.ts";
import {
  type FakeOtlpReceiver,
  type ReceivedSpan,
  SPAN_KIND,
  startFakeOtlpReceiver,
} from "./test-support/otlp-receiver.ts";
import { scrubPath, scrubQuery, startTracing, tracingWanted } from "./tracing.ts";

/**
 * Tracing end to end (issue #14): a real `engage-bridge start` child process exporting OTLP/HTTP JSON
 * to a fake collector; one signed webhook, delivered to the webhook forwarder (fetch, i.e. undici) and
 * to SendGrid (its official SDK: axios over node:http) after a contact lookup in the fake Engage API.
 */

const children = new Set<ChildGateway>();
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  await killChildren(children);
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

const CONTACT = "c-7f3a9e2b";
const EMAIL = "Tracy.Tracer@Example.com";

interface Fakes {
  engage: FakeEngageApi;
  sendgrid: FakeSendGrid;
  forward: FakeWebhookReceiver;
}

async function fakes(): Promise<Fakes> {
  const engage = await startFakeEngageApi({ apiKey: "engage-key" });
  const sendgrid = await startFakeSendGrid();
  const forward = await startFakeWebhookReceiver();
  cleanups.push(
    () => engage.close(),
    () => sendgrid.close(),
    () => forward.close(),
  );
  engage.setContact(CONTACT, { email: EMAIL, acceptsEmail: false });
  return { engage, sendgrid, forward };
}

async function gateway(f: Fakes, env: NodeJS.ProcessEnv): Promise<{ gw: ChildGateway; db: string }> {
  const dir = tempDir("engage-gw-tracing-");
  cleanups.push(() => dir.remove());
  const { configFile, db } = writeChildConfig(dir.path, {
    sources: {
      engage: {
        signingSecrets: [TEST_SECRET],
        engageApi: { baseUrl: f.engage.url, apiKey: "engage-key" },
      },
    },
    connectors: {
      webhook: { url: f.forward.url, secret: f.forward.secret },
      sendgrid: { apiKey: f.sendgrid.apiKey, baseUrl: f.sendgrid.url },
    },
    delivery: { pollIntervalMs: 20 },
  });
  // Whatever the environment running the tests says about OpenTelemetry, the child gets `env` only.
  const cleared = Object.fromEntries(
    Object.keys(process.env)
      .filter((k) => k.startsWith("OTEL_"))
      .map((k) => [k, ""]),
  );
  const gw = await spawnGateway(configFile, await freePort(), { ...cleared, ...env });
  children.add(gw);
  return { gw, db };
}

async function postSample(gw: ChildGateway): Promise<{ eventId: string; svixId: string }> {
  const body = sampleEvent("contact.acceptsEmail.changed", { contactId: CONTACT, payload: { value: false } });
  const svixId = newMsgId();
  const res = await fetch(`${gw.url}/webhooks/engage`, {
    method: "POST",
    headers: { "content-type": "application/json", ...signed(body, { msgId: svixId }) },
    body,
  });
  expect(res.status).toBe(204);
  const envelope = JSON.parse(body) as { id?: string; eventId?: string };
  return { eventId: envelope.id ?? envelope.eventId ?? "", svixId };
}

const delivered = (f: Fakes) =>
  waitFor(
    () => f.forward.accepted().length === 1 && f.sendgrid.globalSuppressions.has(EMAIL.toLowerCase()),
    20_000,
    "delivery to the webhook receiver and SendGrid",
  );

describe("tracing", () => {
  it("one webhook: an ingest span (verify, commit), a delivery span per connector linked to it, each with its target call as a child", async () => {
    const otlp: FakeOtlpReceiver = await startFakeOtlpReceiver();
    cleanups.push(() => otlp.close());
    const f = await fakes();
    const { gw, db } = await gateway(f, {
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_BSP_SCHEDULE_DELAY: "100",
    });
    const { eventId, svixId } = await postSample(gw);
    await delivered(f);

    const named = (name: string) => otlp.spans.filter((s) => s.name === name);
    const childrenOf = (parent: ReceivedSpan) =>
      otlp.spans.filter((s) => s.parentSpanId === parent.spanId && s.traceId === parent.traceId);
    await waitFor(
      () =>
        ["webhook", "sendgrid"].every((c) =>
          named(`engage-bridge.deliver ${c}`).some((d) =>
            childrenOf(d).some(
              (s) => s.kind === SPAN_KIND.client && s.attributes["http.request.method"] === "POST",
            ),
          ),
        ),
      15_000,
      "delivery spans with their target calls",
    );
    // Traces only (no metrics or logs), and the exporter's own requests are not traced.
    expect(otlp.requests.every((r) => r.path === "/v1/traces" && r.status === 200)).toBe(true);
    expect(otlp.spans.filter((s) => s.attributes["server.port"] === otlp.port)).toEqual([]);

    // Ingest: under the HTTP server span, with verify and commit as children.
    const [ingest, ...more] = named("engage-bridge.ingest");
    expect(more).toEqual([]);
    if (!ingest) throw new Error("no ingest span");
    expect(ingest.resource["service.name"]).toBe("engage-bridge");
    expect(ingest.resource["service.version"]).toMatch(/^\d+\.\d+\.\d+/);
    expect(ingest.attributes).toMatchObject({
      "engage_bridge.source": "engage",
      "engage_bridge.svix_id": svixId,
      "engage_bridge.event.id": eventId,
      "engage_bridge.event.type": "contact.acceptsEmail.changed",
      "engage_bridge.event.status": "accepted",
      "engage_bridge.ingest.outcome": "accepted",
      "engage_bridge.deliveries": 2,
      "http.response.status_code": 204,
    });
    const server = otlp.spans.find((s) => s.spanId === ingest.parentSpanId);
    expect(server).toMatchObject({
      kind: SPAN_KIND.server,
      name: "POST /webhooks/:source",
      traceId: ingest.traceId,
      attributes: { "http.route": "/webhooks/:source", "url.path": "/webhooks/engage" },
    });
    // Its children: verify and commit, and (batches of one) the delivery attempts, checked below.
    expect(
      childrenOf(ingest)
        .map((s) => s.name)
        .sort(),
    ).toEqual([
      "engage-bridge.commit",
      "engage-bridge.deliver sendgrid",
      "engage-bridge.deliver webhook",
      "engage-bridge.verify",
    ]);
    expect(named("engage-bridge.verify")[0]?.attributes["engage_bridge.verify.outcome"]).toBe("valid");
    expect(named("engage-bridge.commit")[0]?.attributes["engage_bridge.commit.outcome"]).toBe("stored");
    // Probes are not traced.
    expect(otlp.spans.some((s) => String(s.attributes["url.path"]).startsWith("/readyz"))).toBe(false);

    // The event stored carries the ingest span's traceparent (the event detail shows its trace id).
    const store = await openStore(`sqlite:${db}`);
    try {
      expect((await store.eventDetail(eventId))?.event.traceId).toBe(ingest.traceId);
    } finally {
      await store.close();
    }

    // Delivery: one span per connector, linked to the ingest span; a batch of one is its child too.
    const ports: Record<string, number> = {
      webhook: Number(new URL(f.forward.url).port),
      sendgrid: Number(new URL(f.sendgrid.url).port),
    };
    for (const connector of ["webhook", "sendgrid"]) {
      const [deliver, ...again] = named(`engage-bridge.deliver ${connector}`);
      expect(again).toEqual([]);
      if (!deliver) throw new Error(`no delivery span for ${connector}`);
      expect(deliver.links).toEqual([
        { traceId: ingest.traceId, spanId: ingest.spanId, attributes: { "engage_bridge.event.id": eventId } },
      ]);
      expect(deliver.traceId).toBe(ingest.traceId);
      expect(deliver.parentSpanId).toBe(ingest.spanId);
      expect(deliver.attributes).toMatchObject({
        "engage_bridge.connector": connector,
        "engage_bridge.connector.type": connector,
        "engage_bridge.source": "engage",
        "engage_bridge.batch.size": 1,
        "engage_bridge.attempt": 1,
        "engage_bridge.event.ids": [eventId],
        "engage_bridge.outcome.delivered": 1,
        "engage_bridge.outcome.retry": 0,
      });
      // The target call, made by the connector inside the delivery span.
      const call = childrenOf(deliver).find(
        (s) => s.kind === SPAN_KIND.client && s.attributes["server.port"] === ports[connector],
      );
      expect(call?.attributes["http.request.method"]).toBe("POST");
      expect(call?.attributes["http.response.status_code"]).toBeGreaterThanOrEqual(200);
    }
    // SendGrid's SDK (axios over node:http) is traced by the http instrumentation, the forwarder's
    // fetch and the Engage lookup by the undici one; the lookup's URL does not name the contact.
    const sendgridDeliver = named("engage-bridge.deliver sendgrid")[0];
    const sendgridCalls = sendgridDeliver ? childrenOf(sendgridDeliver) : [];
    expect(sendgridCalls.map((s) => s.scope).sort()).toEqual([
      "@opentelemetry/instrumentation-http",
      "@opentelemetry/instrumentation-undici",
    ]);
    const lookup = sendgridCalls.find((s) => s.attributes["http.request.method"] === "GET");
    expect(lookup?.attributes["url.full"]).toBe(`${f.engage.url}/api/v3/contacts/REDACTED`);
    // The target got the trace context: its traceparent names the delivery's trace.
    expect(f.forward.accepted()[0]?.headers.traceparent).toMatch(new RegExp(`^00-${ingest.traceId}-`));

    // No span says who the contact is.
    const everything = JSON.stringify(otlp.spans.map((s) => [s.name, s.attributes, s.links]));
    for (const secret of [CONTACT, EMAIL, EMAIL.toLowerCase(), encodeURIComponent(EMAIL.toLowerCase())])
      expect(everything.toLowerCase()).not.toContain(secret.toLowerCase());
    expect(everything).not.toContain(f.sendgrid.apiKey);
    expect(everything).not.toContain(f.forward.secret);

    // SIGTERM: the gateway still exits in time, spans flushed.
    gw.child.kill("SIGTERM");
    const started = Date.now();
    expect(await gw.exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
  }, 60_000);

  it("a collector that never answers does not hold up shutdown: SIGTERM still exits within 10 s", async () => {
    // Accepts connections, reads nothing, answers nothing.
    const sockets = new Set<Socket>();
    const blackHole = createServer((socket) => {
      sockets.add(socket);
      socket.on("error", () => undefined);
    });
    blackHole.listen(0, "127.0.0.1");
    await once(blackHole, "listening");
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          for (const socket of sockets) socket.destroy();
          blackHole.close(() => resolve());
        }),
    );
    const f = await fakes();
    const { gw } = await gateway(f, {
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(blackHole.address() as AddressInfo).port}`,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      // Spans stay buffered until shutdown has to flush them.
      OTEL_BSP_SCHEDULE_DELAY: "60000",
    });
    await postSample(gw);
    await delivered(f);
    const started = Date.now();
    gw.child.kill("SIGTERM");
    expect(await gw.exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(sockets.size).toBeGreaterThan(0);
  }, 60_000);

  it("without an OTLP endpoint, tracing is off and the gateway delivers as before", async () => {
    expect(tracingWanted({})).toBe(false);
    expect(
      tracingWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318", OTEL_SDK_DISABLED: "true" }),
    ).toBe(false);
    expect(tracingWanted({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://127.0.0.1:4318/v1/traces" })).toBe(
      true,
    );
    expect(startTracing({})).toBeUndefined();

    const otlp = await startFakeOtlpReceiver();
    cleanups.push(() => otlp.close());
    const f = await fakes();
    // Everything but the endpoint: nothing may be exported anywhere.
    const { gw } = await gateway(f, {
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_BSP_SCHEDULE_DELAY: "50",
    });
    await postSample(gw);
    await delivered(f);
    await new Promise((r) => setTimeout(r, 500));
    expect(otlp.requests).toEqual([]);
    expect(f.forward.accepted()[0]?.headers.traceparent).toBeUndefined();
  }, 60_000);

  it("URL scrubbing keeps words, versions and dates, and nothing that could name a contact", () => {
    expect(scrubPath("/communication-preferences/2026-03/statuses/jane%40example.com")).toBe(
      "/communication-preferences/2026-03/statuses/REDACTED",
    );
    expect(scrubPath("/v3/asm/groups/4242/suppressions/jane.doe@example.com")).toBe(
      "/v3/asm/groups/REDACTED/suppressions/REDACTED",
    );
    expect(scrubPath("/v4/spreadsheets/1AbC/values/Loyalty!A1:append")).toBe(
      "/v4/spreadsheets/REDACTED/values/REDACTED:append",
    );
    expect(scrubPath("/api/v3/contacts/5b0b6e7c-1f1e-4b7a-9d55-0c2e1f0a9b11")).toBe(
      "/api/v3/contacts/REDACTED",
    );
    expect(scrubQuery("?idProperty=email&email=jane@example.com")).toBe(
      "?idProperty=REDACTED&email=REDACTED",
    );
    expect(scrubQuery("")).toBe("");
  });
});
