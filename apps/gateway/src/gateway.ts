import { once } from "node:events";
import type { Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { GatewayConfig } from "./config/schema.ts";
import type { ConnectorRegistry } from "./connectors/registry.ts";
import { createRouter } from "./connectors/routing.ts";
import type { SourceRuntime } from "./delivery/connector-worker.ts";
import { createDeliveryEngine, type DeliveryEngine } from "./delivery/engine.ts";
import { createApp } from "./http/app.ts";
import { OpenResponses } from "./http/open-responses.ts";
import { type PreparedSource, prepareSource } from "./http/sources.ts";
import type { Logger } from "./logger.ts";
import { createMetrics, type Metrics } from "./metrics.ts";
import { openStore } from "./store/open.ts";
import { SqliteStore } from "./store/sqlite.ts";
import { acquireRunLocks } from "./store/sqlite-run-lock.ts";
import type { Store } from "./store/store.ts";

export type Role = "all" | "ingest" | "worker";

export interface GatewayOptions {
  config: GatewayConfig;
  registry: ConnectorRegistry;
  logger: Logger;
  /** `ingest`: HTTP only; `worker`: delivery only (HTTP serves health and metrics); `all`: both. */
  role?: Role;
  /** An already open store (tests); otherwise opened from `config.store`. */
  store?: Store;
  /** Per-source runtime override (tests inject contact lookups). */
  sources?: Map<string, SourceRuntime>;
  /** Sandbox mode: what the fake targets hold, served at `GET /sandbox`. */
  sandboxState?: (() => Record<string, unknown>) | undefined;
  /** Bound on finishing in-flight requests and batches at shutdown; the process exits within 10 s. */
  shutdownTimeoutMs?: number;
}

export interface Gateway {
  url: string;
  server: Server;
  store: Store;
  metrics: Metrics;
  engine: DeliveryEngine | undefined;
  /** Stops accepting, lets in-flight requests and batches finish (bounded), closes the store. */
  close(): Promise<void>;
}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const { config, logger } = options;
  const role = options.role ?? "all";
  if (config.server.trustProxy === true) {
    logger.warn(
      "server.trustProxy is true: every X-Forwarded-For hop is trusted and req.ip is whatever a client claims; " +
        "give the number of proxies in front of the gateway or their CIDRs instead",
    );
  }
  // One gateway per role on a SQLite file (a store passed in by a test is the test's business).
  const locks =
    options.store === undefined && config.store.startsWith("sqlite:")
      ? acquireRunLocks(SqliteStore.pathOf(config.store), role === "all" ? ["ingest", "worker"] : [role])
      : undefined;
  let store: Store;
  try {
    store = options.store ?? (await openStore(config.store, config.storeOptions));
  } catch (error) {
    locks?.release();
    throw error;
  }
  const metrics = createMetrics(store);
  let engine: DeliveryEngine | undefined;
  if (role !== "ingest") {
    engine = createDeliveryEngine({
      config,
      registry: options.registry,
      store,
      logger,
      metrics: metrics.delivery,
      sources: options.sources,
    });
    try {
      await engine.init();
    } catch (error) {
      await store.close();
      locks?.release();
      throw error;
    }
  }
  const sources = new Map<string, PreparedSource>(
    role === "worker"
      ? []
      : Object.entries(config.sources).map(([name, source]) => [name, prepareSource(name, source)]),
  );
  const app = createApp({
    sources,
    store,
    route: createRouter(config, options.registry),
    bodyLimit: config.server.bodyLimit,
    maxInflightBytes: config.server.maxInflightBytes,
    trustProxy: config.server.trustProxy,
    metrics,
    logger,
    onStored: (connectors) => engine?.wake(connectors),
    readinessDetail: () => (engine ? { connectors: engine.health() } : {}),
    sandboxState: options.sandboxState,
    adminToken: config.admin?.token,
    connectorHealth: () => engine?.health() ?? {},
  });

  const server = app.listen(config.server.port, config.server.host);
  // `Expect: 100-continue` with a declared body over the limit: refuse instead of inviting the upload.
  server.on("checkContinue", (req, res) => {
    if (Number(req.headers["content-length"]) > config.server.bodyLimit) {
      const body = JSON.stringify({ error: "payload_too_large", message: "body is larger than the limit" });
      res.writeHead(413, {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(body),
        connection: "close",
      });
      res.end(body);
      return;
    }
    res.writeContinue();
    server.emit("request", req, res);
  });
  await once(server, "listening");
  // Svix waits 15 s at most; a client that is slower than that is not Svix.
  server.requestTimeout = 30_000;
  server.headersTimeout = 20_000;
  server.keepAliveTimeout = 5_000;
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = `http://${host === "0.0.0.0" || host === "[::]" ? "127.0.0.1" : host}:${address.port}`;
  engine?.start();

  // Keep-alive connections would go on carrying requests after shutdown began: once closing,
  // every answer not yet sent says `Connection: close`, so each socket ends after its response.
  const unanswered = new OpenResponses<ServerResponse>();
  let closingStarted = false;
  server.on("request", (_req, res: ServerResponse) => {
    if (closingStarted) res.setHeader("connection", "close");
    res.on("close", unanswered.add(res));
  });

  const bound = options.shutdownTimeoutMs ?? 7_000;
  let closing: Promise<void> | undefined;
  const close = () => {
    closingStarted = true;
    for (const res of unanswered) if (!res.headersSent) res.setHeader("connection", "close");
    closing ??= (async () => {
      const httpClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), bound);
      await Promise.all([httpClosed, engine?.stop(bound)]);
      clearTimeout(timer);
      await store.close();
      locks?.release();
    })();
    return closing;
  };
  return { url, server, store, metrics, engine, close };
}
