import { once } from "node:events";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { EnabledConnectorConfig, GatewayConfig } from "./config/schema.ts";
import type { ConnectorRegistry } from "./connectors/registry.ts";
import { createApp } from "./http/app.ts";
import { type PreparedSource, prepareSource } from "./http/sources.ts";
import type { Logger } from "./logger.ts";
import { createMetrics, type Metrics } from "./metrics.ts";
import { openStore } from "./store/open.ts";
import type { Store } from "./store/store.ts";

export interface GatewayOptions {
  config: GatewayConfig;
  registry: ConnectorRegistry;
  logger: Logger;
  /** An already open store (tests); otherwise opened from `config.store`. */
  store?: Store;
  /** Bound before giving up on in-flight requests at shutdown. */
  shutdownTimeoutMs?: number;
}

export interface Gateway {
  url: string;
  server: Server;
  store: Store;
  metrics: Metrics;
  /** Stops accepting, lets in-flight requests finish (bounded), closes the store. */
  close(): Promise<void>;
}

export function enabledConnectorNames(config: GatewayConfig): string[] {
  return Object.entries(config.connectors as Record<string, EnabledConnectorConfig | undefined>)
    .filter(([, c]) => c?.enabled)
    .map(([name]) => name);
}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const { config, logger } = options;
  const store = options.store ?? (await openStore(config.store));
  const metrics = createMetrics(store);
  const sources = new Map<string, PreparedSource>(
    Object.entries(config.sources).map(([name, source]) => [name, prepareSource(name, source)]),
  );
  const app = createApp({
    sources,
    store,
    registry: options.registry,
    enabledConnectors: enabledConnectorNames(config),
    bodyLimit: config.server.bodyLimit,
    trustProxy: config.server.trustProxy,
    metrics,
    logger,
  });

  const server = app.listen(config.server.port, config.server.host);
  await once(server, "listening");
  // Svix waits 15 s at most; a client that is slower than that is not Svix.
  server.requestTimeout = 30_000;
  server.headersTimeout = 20_000;
  server.keepAliveTimeout = 5_000;
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = `http://${host === "0.0.0.0" || host === "[::]" ? "127.0.0.1" : host}:${address.port}`;

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), options.shutdownTimeoutMs ?? 8_000);
      await closed;
      clearTimeout(timer);
      await store.close();
    })();
    return closing;
  };
  return { url, server, store, metrics, close };
}
