/**
 * SendGrid suppression benchmark: N email opt-outs (default 10,000) through a real gateway to the
 * fake SendGrid, counting the API calls it took.
 *
 *   node packages/connector-sendgrid/bench/suppressions.ts          # from the repository root
 *   BENCH_EVENTS=2000 BENCH_SENDGRID_LATENCY_MS=0 node packages/connector-sendgrid/bench/suppressions.ts
 *
 * Environment:
 *   BENCH_EVENTS               opt-out events, one contact and address each (default 10000)
 *   BENCH_CONCURRENCY          webhook posts in flight (default 64)
 *   BENCH_SENDGRID_LATENCY_MS  delay the fake SendGrid adds to every answer, a stand-in for the
 *                              round trip to api.sendgrid.com (default 100)
 *
 * Set-up, all in this process: the gateway as in the gateway's tests (`startTestGateway`: HTTP
 * ingest with Svix signatures, SQLite store with group commit in a temp dir, delivery engine) with
 * this package's connector; contact lookups through the real Engage client against the fake Engage
 * API (its 40/s default raised: the fake has no limit, and at 40/s the run would measure Engage's
 * limit instead); the connector's official SDK client against the fake SendGrid (its default rate
 * limit: 600 requests per minute and endpoint). Every event gets its own svix-id, event id and
 * signature; the posts go out `BENCH_CONCURRENCY` at a time while the worker delivers.
 *
 * Printed: events, POST calls (and any other SendGrid calls), addresses per call, events per second
 * from the first post to the last delivery, and whether the fake's global suppression list equals the
 * expected set exactly. Exit code 1 when a check fails (not all delivered, list not exact, or not
 * "far fewer calls": more than one call per 20 addresses), not on speed.
 */
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { sampleEvent, startFakeEngageApi, startFakeSendGrid } from "@engage-bridge/testkit";
import { startTestGateway, waitFor } from "../../../apps/gateway/src/test-support/harness.ts";
import { createEngageClient } from "../../engage-api/src/index.ts";
import { MAX_BATCH_SIZE, sendgridConnector } from "../src/index.ts";

const EVENTS = positiveInteger("BENCH_EVENTS", 10_000);
const CONCURRENCY = positiveInteger("BENCH_CONCURRENCY", 64);
const LATENCY_MS = nonNegativeInteger("BENCH_SENDGRID_LATENCY_MS", 100);

const out = (text = "") => process.stdout.write(`${text}\n`);

function nonNegativeInteger(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) {
    process.stderr.write(`${name} must be a non-negative integer, got ${JSON.stringify(raw)}\n`);
    process.exit(2);
  }
  return n;
}

function positiveInteger(name: string, fallback: number): number {
  const n = nonNegativeInteger(name, fallback);
  if (n === 0) {
    process.stderr.write(`${name} must be positive\n`);
    process.exit(2);
  }
  return n;
}

const seconds = (ms: number) => (ms / 1000).toFixed(2);

async function main(): Promise<number> {
  const sendgrid = await startFakeSendGrid({ latencyMs: LATENCY_MS });
  const engage = await startFakeEngageApi({ apiKey: "bench-engage-key" });
  const lookup = createEngageClient({
    baseUrl: engage.url,
    apiKey: "bench-engage-key",
    rateLimit: { requests: 100_000, perSeconds: 1 },
  }).lookup;

  // One template, varied per event: contact id, event id (the gateway keys deliveries on them).
  const template = JSON.parse(sampleEvent("contact.acceptsEmail.changed")) as {
    id: string;
    payload: Record<string, unknown>;
  };
  const expected = new Set<string>();
  const bodies: string[] = [];
  for (let i = 0; i < EVENTS; i++) {
    const contactId = `bench-contact-${i}`;
    const email = `subscriber${i}@bench.example.com`;
    engage.setContact(contactId, { email, acceptsEmail: false });
    expected.add(email);
    bodies.push(JSON.stringify({ ...template, id: randomUUID(), payload: { contactId, value: false } }));
  }

  const gw = await startTestGateway(
    { connectors: { sendgrid: { apiKey: sendgrid.apiKey, baseUrl: sendgrid.url } } },
    { connectors: [sendgridConnector], sources: new Map([["engage", { payloadKey: undefined, lookup }]]) },
  );
  let code = 0;
  try {
    out(`sendgrid suppressions benchmark: ${EVENTS} opt-outs, ${CONCURRENCY} posts in flight`);
    out(
      `gateway in-process (SQLite), batches of up to ${MAX_BATCH_SIZE}; fake SendGrid latency ${LATENCY_MS} ms; ` +
        `node ${process.version}`,
    );

    const started = performance.now();
    let next = 0;
    let rejected = 0;
    const poster = async () => {
      while (next < bodies.length) {
        const body = bodies[next++] as string;
        const answer = await gw.post(body);
        if (answer.status !== 204) rejected += 1;
        await answer.arrayBuffer();
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, poster));
    const ingested = performance.now();
    const delivered = async () => (await gw.store.stats()).deliveries.sendgrid?.delivered ?? 0;
    await waitFor(async () => (await delivered()) >= EVENTS, 600_000, `${EVENTS} deliveries`);
    const finished = performance.now();

    const stats = (await gw.store.stats()).deliveries.sendgrid ?? {};
    const posts = sendgrid.requests.filter((r) => r.method === "POST");
    const others = sendgrid.requests.length - posts.length;
    const failed = sendgrid.requests.filter((r) => r.status >= 300).length;
    const sizes = posts.map((r) => r.emails.length);
    const addresses = sizes.reduce((a, b) => a + b, 0);
    const list = sendgrid.globalSuppressions;
    const exact = list.size === expected.size && [...expected].every((e) => list.has(e));
    const fewCalls = sendgrid.requests.length * 20 <= EVENTS;

    out();
    out(`events: ${EVENTS} (webhooks rejected: ${rejected})`);
    out(`deliveries: ${JSON.stringify(stats)}`);
    out(
      `POST calls: ${posts.length} for ${addresses} addresses ` +
        `(${(addresses / Math.max(1, posts.length)).toFixed(1)} per call, largest ${Math.max(0, ...sizes)}); ` +
        `other SendGrid calls: ${others}; non-2xx answers: ${failed}`,
    );
    out(
      `time: ingest ${seconds(ingested - started)} s, all delivered after ${seconds(finished - started)} s ` +
        `-> ${Math.round(EVENTS / ((finished - started) / 1000))} events/s end to end`,
    );
    out(
      `final suppression list: ${list.size} addresses, equals the expected set exactly: ${exact ? "yes" : "NO"}`,
    );
    out(`calls per address: 1/${(EVENTS / Math.max(1, sendgrid.requests.length)).toFixed(0)}`);
    if (rejected > 0 || !exact || !fewCalls || (stats.delivered ?? 0) !== EVENTS) code = 1;
    if (code !== 0) out("CHECK FAILED");
  } finally {
    await gw.stop();
    await sendgrid.close();
    await engage.close();
  }
  return code;
}

process.exitCode = await main();
