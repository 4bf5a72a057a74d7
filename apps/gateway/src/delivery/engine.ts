import { createEngageClient } from "@engage-bridge/engage-api";
import type { EnabledConnectorConfig, GatewayConfig } from "../config/schema.ts";
import type { ConnectorRegistry } from "../connectors/registry.ts";
import type { Logger } from "../logger.ts";
import type { Store } from "../store/store.ts";
import { ConnectorWorker, type SourceRuntime } from "./connector-worker.ts";
import { HealthBoard, type HealthState } from "./health.ts";
import type { DeliveryMetrics } from "./metrics.ts";
import { createRetryPolicy } from "./retry-policy.ts";

export interface DeliveryEngine {
  /** Runs every enabled connector's `init` (start-up checks); rejects with a clear message on the first failure. */
  init(): Promise<void>;
  start(): void;
  /** New deliveries were committed for these connectors. */
  wake(connectors: readonly string[]): void;
  stop(timeoutMs: number): Promise<void>;
  readonly connectors: readonly string[];
  /** What each enabled connector last reported about itself. */
  health(): Record<string, HealthState>;
}

/** Per-source runtime: payload key and, when `engageApi` is configured, a cached contact lookup. */
export function sourceRuntimes(config: GatewayConfig): Map<string, SourceRuntime> {
  return new Map(
    Object.entries(config.sources).map(([name, source]) => [
      name,
      {
        payloadKey: source.payloadKey,
        lookup: source.engageApi
          ? createEngageClient({ baseUrl: source.engageApi.baseUrl, apiKey: source.engageApi.apiKey }).lookup
          : undefined,
      },
    ]),
  );
}

export function createDeliveryEngine(options: {
  config: GatewayConfig;
  registry: ConnectorRegistry;
  store: Store;
  logger: Logger;
  metrics: DeliveryMetrics;
  sources?: Map<string, SourceRuntime>;
}): DeliveryEngine {
  const { config, registry, store, logger, metrics } = options;
  const sources = options.sources ?? sourceRuntimes(config);
  const policy = createRetryPolicy(config.delivery);
  const enabled = Object.entries(
    config.connectors as Record<string, EnabledConnectorConfig | undefined>,
  ).filter((entry): entry is [string, EnabledConnectorConfig] => Boolean(entry[1]?.enabled));
  const board = new HealthBoard(metrics.connectorHealthy);
  const healthOf = new Map(enabled.map(([name]) => [name, board.for(name)]));
  const workers = new Map<string, ConnectorWorker>();
  // One worker per instance: its own slots, pacer and health, even beside another of the same type.
  for (const [name, block] of enabled) {
    const connector = Object.hasOwn(registry, block.type) ? registry[block.type] : undefined;
    if (!connector) continue;
    workers.set(
      name,
      new ConnectorWorker({
        name,
        connector,
        config: block.config,
        rateLimit: block.rateLimit ?? connector.rateLimit,
        store,
        sources,
        policy,
        logger,
        metrics,
        attemptTimeoutMs: config.delivery.attemptTimeoutSeconds * 1000,
        pollMs: config.delivery.pollIntervalMs,
        health: healthOf.get(name) ?? board.for(name),
      }),
    );
  }

  return {
    connectors: [...workers.keys()],
    health: () => board.snapshot(),
    async init() {
      const firstLookup = [...sources.values()].find((s) => s.lookup)?.lookup;
      for (const [name, block] of enabled) {
        const connector = Object.hasOwn(registry, block.type) ? registry[block.type] : undefined;
        if (!connector?.init) continue;
        const signal = AbortSignal.timeout(30_000);
        const run = async (pace?: () => Promise<void>) =>
          connector.init?.(block.config, {
            logger: logger.child({ connector: name }),
            health: healthOf.get(name) ?? board.for(name),
            signal,
            lookupContact: firstLookup,
            pace,
          });
        try {
          // Start-up requests count against the connector's rate limit like deliveries do.
          const worker = workers.get(name);
          const state = await (worker ? worker.paced(signal, run) : run());
          // The instance's state (contract v2): handed to each of its deliver calls as ctx.state.
          worker?.useState(state);
        } catch (error) {
          throw new Error(`connector ${name} failed its start-up check: ${(error as Error).message}`);
        }
      }
    },
    start() {
      for (const worker of workers.values()) worker.start();
    },
    wake(connectors) {
      for (const name of connectors) workers.get(name)?.wake();
    },
    async stop(timeoutMs) {
      await Promise.all([...workers.values()].map((w) => w.stop(timeoutMs)));
    },
  };
}
