import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { createDeliveryMetrics } from "./delivery/metrics.ts";
import type { Store } from "./store/store.ts";

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * Memoizes a metric's bound child by its label values. prom-client resolves a labels object on every
 * `inc`/`observe` (it hashes the sorted keys), which shows on a path taken tens of thousands of times a
 * second. The values must come from a bounded set (configured names, status codes).
 */
export function boundBy<T>(bind: (...values: string[]) => T): (...values: string[]) => T {
  const bound = new Map<string, T>();
  return (...values) => {
    const key = values.join("\u0000");
    let child = bound.get(key);
    if (child === undefined) {
      child = bind(...values);
      bound.set(key, child);
    }
    return child;
  };
}

/** One registry per gateway instance (tests run several in one process). */
export function createMetrics(store: Store) {
  const registry = new Registry();
  // The default metrics' names already start with process_ or nodejs_.
  collectDefaultMetrics({ register: registry, prefix: "engage_bridge_" });
  const received = new Counter({
    name: "engage_bridge_webhooks_received_total",
    help: "Webhook requests received, per source",
    labelNames: ["source"] as const,
    registers: [registry],
  });
  const accepted = new Counter({
    name: "engage_bridge_webhooks_accepted_total",
    help: "Webhooks acknowledged with 204: outcome stored or duplicate; status accepted, ignored or undecryptable",
    labelNames: ["source", "outcome", "status"] as const,
    registers: [registry],
  });
  const rejected = new Counter({
    name: "engage_bridge_webhooks_rejected_total",
    help: "Webhook requests refused, per reason",
    labelNames: ["source", "reason"] as const,
    registers: [registry],
  });
  const redeliveredDifferentBody = new Counter({
    name: "engage_bridge_webhooks_redelivered_different_body_total",
    help: "Redeliveries of a stored svix-id whose body differs from the stored one (the stored body is kept)",
    labelNames: ["source"] as const,
    registers: [registry],
  });
  const ingestSeconds = new Histogram({
    name: "engage_bridge_ingest_duration_seconds",
    help: "Time from request to answer on the webhook route, commit included",
    labelNames: ["source", "code"] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const deliveries = new Gauge({
    name: "engage_bridge_deliveries",
    help: "Stored deliveries per connector and status",
    labelNames: ["connector", "status"] as const,
    registers: [registry],
  });
  const queueDepth = new Gauge({
    name: "engage_bridge_queue_depth",
    help: "Deliveries pending or retrying",
    registers: [registry],
  });
  const oldestPending = new Gauge({
    name: "engage_bridge_oldest_pending_seconds",
    help: "Age of the oldest pending or retrying delivery (0 when none)",
    registers: [registry],
  });
  const connectorDepth = new Gauge({
    name: "engage_bridge_connector_queue_depth",
    help: "Deliveries pending or retrying, per connector",
    labelNames: ["connector"] as const,
    registers: [registry],
  });
  const connectorOldest = new Gauge({
    name: "engage_bridge_connector_oldest_pending_seconds",
    help: "Age of the oldest pending or retrying delivery, per connector",
    labelNames: ["connector"] as const,
    registers: [registry],
  });
  // Read from the store at each scrape, as counters: their rate ratio is the mean group size.
  const ingestCommits = new Counter({
    name: "engage_bridge_ingest_commits_total",
    help: "Group-commit transactions of the webhook path (one fsync or one round trip each)",
    registers: [registry],
  });
  const ingestCommitted = new Counter({
    name: "engage_bridge_ingest_committed_events_total",
    help: "Webhook events grouped into those transactions",
    registers: [registry],
  });
  const storeUp = new Gauge({
    name: "engage_bridge_store_up",
    help: "1 when the store answered the last scrape",
    registers: [registry],
  });

  return {
    registry,
    received,
    accepted,
    rejected,
    redeliveredDifferentBody,
    ingestSeconds,
    delivery: createDeliveryMetrics(registry),
    /** Reads the store-derived gauges and group-commit counters, then renders the exposition text. */
    async render(): Promise<string> {
      const { commits, events } = store.counters;
      ingestCommits.reset();
      ingestCommits.inc(commits);
      ingestCommitted.reset();
      ingestCommitted.inc(events);
      try {
        const stats = await store.stats();
        deliveries.reset();
        for (const [connector, byStatus] of Object.entries(stats.deliveries)) {
          for (const [status, n] of Object.entries(byStatus)) deliveries.set({ connector, status }, n ?? 0);
        }
        queueDepth.set(stats.queueDepth);
        connectorDepth.reset();
        connectorOldest.reset();
        for (const [connector, pending] of Object.entries(stats.pendingByConnector)) {
          connectorDepth.set({ connector }, pending.depth);
          connectorOldest.set({ connector }, pending.oldestSeconds);
        }
        oldestPending.set(stats.oldestPendingSeconds ?? 0);
        storeUp.set(1);
      } catch {
        storeUp.set(0);
      }
      return registry.metrics();
    },
  };
}
