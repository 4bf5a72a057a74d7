/**
 * Delivery benchmark: 10,000 events through the test connector to a fake target that takes 10 ms
 * per call, against a baseline measured in the same run: one call per event, one at a time (what a
 * gateway without batching does).
 *
 *   pnpm bench:deliver                      # from the repository root
 *   BENCH_EVENTS=20000 node apps/gateway/bench/deliver.ts
 *
 * The events are first committed to a fresh durable SQLite store (group commit, as ingest does);
 * then the delivery engine drains the backlog and the time until every delivery is `delivered` is
 * measured. Prints events/s for both, their ratio, the number of target calls and the final check
 * that the target's state holds exactly one entry per event. Exit code 1 only when that check fails.
 */
import { join } from "node:path";
import { parseEngageEvent } from "@engage-bridge/core";
import { createTestConnector, sampleEvent, startFakeTarget } from "@engage-bridge/testkit";
import { Registry } from "prom-client";
import { parseConfig } from "../src/config/load.ts";
import { makeRegistry } from "../src/connectors/registry.ts";
import { createDeliveryEngine } from "../src/delivery/engine.ts";
import { createDeliveryMetrics } from "../src/delivery/metrics.ts";
import { createLogger } from "../src/logger.ts";
import { SqliteStore } from "../src/store/sqlite.ts";
import { TEST_SECRET, tempDir } from "../src/test-support/harness.ts";

const EVENTS = Number(process.env.BENCH_EVENTS ?? 10_000);
const LATENCY_MS = 10;
const BASELINE_SAMPLE = 300;
const TYPES = ["loyalty.addPoints", "point.balance.updated", "reward.voucher.created"] as const;
const out = (text = "") => process.stdout.write(`${text}\n`);

const target = await startFakeTarget({ latencyMs: LATENCY_MS });
const connector = createTestConnector("testTarget", { maxBatchSize: 500 });
const dir = tempDir("engage-bench-deliver-");
try {
  // Baseline: one call per event, sequentially, on a sample (10 ms each: extrapolating is exact enough).
  const baselineStart = performance.now();
  for (let i = 0; i < BASELINE_SAMPLE; i++) {
    const event = parseEngageEvent(sampleEvent(TYPES[i % TYPES.length] ?? "loyalty.addPoints"));
    const res = await fetch(`${target.url}/apply`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ items: [{ key: `baseline:${event.id}`, value: event.type }] }),
    });
    await res.arrayBuffer();
  }
  const baselineRate = BASELINE_SAMPLE / ((performance.now() - baselineStart) / 1000);
  target.state.clear();
  target.requests.length = 0;

  const store = new SqliteStore(join(dir.path, "bench.db"));
  await store.migrate();
  const ids: string[] = [];
  const inserts: Promise<unknown>[] = [];
  for (let i = 0; i < EVENTS; i++) {
    const body = sampleEvent(TYPES[i % TYPES.length] ?? "loyalty.addPoints");
    const event = parseEngageEvent(body);
    ids.push(event.id);
    inserts.push(
      store.insertEvent({
        source: "engage",
        svixId: `msg_bench_${i}`,
        eventId: event.id,
        type: event.eventType,
        status: "accepted",
        contactId: event.contactId,
        receivedAt: new Date(),
        body: Buffer.from(body),
        connectors: ["testTarget"],
      }),
    );
  }
  await Promise.all(inserts);

  const registry = makeRegistry([connector]);
  const config = parseConfig(
    JSON.stringify({
      store: `sqlite:${join(dir.path, "bench.db")}`,
      sources: { engage: { signingSecrets: [TEST_SECRET] } },
      connectors: { testTarget: { baseUrl: target.url } },
      delivery: { pollIntervalMs: 50 },
    }),
    "(bench)",
    { registry, env: {} },
  );
  const engine = createDeliveryEngine({
    config,
    registry,
    store,
    logger: createLogger({ level: "warn" }),
    metrics: createDeliveryMetrics(new Registry()),
  });
  await engine.init();
  const started = performance.now();
  engine.start();
  for (;;) {
    const stats = await store.stats();
    if ((stats.deliveries.testTarget?.delivered ?? 0) >= EVENTS) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const seconds = (performance.now() - started) / 1000;
  await engine.stop(5_000);
  await store.close();

  const rate = EVENTS / seconds;
  const exact = target.state.size === EVENTS && ids.every((id) => target.state.has(`event:${id}`));
  out(`delivery benchmark: ${EVENTS} events, fake target ${LATENCY_MS} ms per call, maxBatchSize 500`);
  out(
    `  baseline (one call per event, sequential, ${BASELINE_SAMPLE} sampled): ${baselineRate.toFixed(0)} events/s`,
  );
  out(
    `  engine:  ${rate.toFixed(0)} events/s in ${seconds.toFixed(2)} s, ${target.requests.length} target calls`,
  );
  out(
    `  ratio engine/baseline: ${(rate / baselineRate).toFixed(1)}x; events per call: ${(EVENTS / target.requests.length).toFixed(1)}`,
  );
  out(`  target state exact (one entry per event, nothing else): ${exact ? "yes" : "NO"}`);
  if (!exact) process.exitCode = 1;
} finally {
  await target.close();
  dir.remove();
}
