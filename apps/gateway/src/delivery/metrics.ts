import { Counter, Gauge, Histogram, type Registry } from "prom-client";

export type DeliveryMetrics = ReturnType<typeof createDeliveryMetrics>;

export function createDeliveryMetrics(registry: Registry) {
  return {
    attempts: new Counter({
      name: "engage_bridge_delivery_attempts_total",
      help: "Items sent to a connector, per connector and result (delivered, skipped, retry, dead)",
      labelNames: ["connector", "outcome"] as const,
      registers: [registry],
    }),
    outcomes: new Counter({
      name: "engage_bridge_delivery_outcomes_total",
      help: "Delivery state changes recorded, per connector and new status",
      labelNames: ["connector", "status"] as const,
      registers: [registry],
    }),
    attemptSeconds: new Histogram({
      name: "engage_bridge_delivery_attempt_duration_seconds",
      help: "Duration of one deliver() call (a batch), per connector",
      labelNames: ["connector"] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    connectorHealthy: new Gauge({
      name: "engage_bridge_connector_healthy",
      help: "1 while a connector works, 0 after it reported itself unhealthy (e.g. credentials refused)",
      labelNames: ["connector"] as const,
      registers: [registry],
    }),
    batchSize: new Histogram({
      name: "engage_bridge_delivery_batch_size",
      help: "Items per deliver() call, per connector",
      labelNames: ["connector"] as const,
      buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000],
      registers: [registry],
    }),
  };
}
