import { randomUUID } from "node:crypto";
import express, { type NextFunction, type Request, type Response } from "express";
import type { Logger } from "../logger.ts";
import type { Metrics } from "../metrics.ts";
import type { Store } from "../store/store.ts";
import { adminRouter } from "./admin.ts";
import { sendError } from "./errors.ts";
import { type IngestOptions, mountIngestRoutes } from "./ingest.ts";

export interface AppOptions extends IngestOptions {
  trustProxy: boolean | number | string | readonly string[];
  metrics: Metrics;
  store: Store;
  logger: Logger;
  /** Extra detail for `/readyz` (connector health); never changes its status code. */
  readinessDetail?: () => Record<string, unknown>;
  /** What each connector last reported about itself (admin API). */
  connectorHealth?: () => Record<string, unknown>;
  /** `admin.token`: enables the admin API and dashboard under /admin/. */
  adminToken?: string | undefined;
  /** Sandbox mode only: `GET /sandbox` shows what the fake targets hold. */
  sandboxState?: (() => Record<string, unknown>) | undefined;
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;
const READINESS_DEADLINE_MS = 1_800;

const isLoopback = (address: string | undefined) =>
  address !== undefined && (address === "::1" || /^(::ffff:)?127\./.test(address));

function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

export function createApp(options: AppOptions): express.Express {
  const { store, metrics, logger } = options;
  const app = express();
  app.disable("x-powered-by");
  app.set("trust proxy", options.trustProxy);
  app.set("etag", false);

  // Every request gets an id (echoed back) and a child logger carrying it, made only when something
  // is logged: at tens of thousands of requests a second, per-request work shows. The access line
  // (debug) carries no headers, query or body.
  const debug = logger.isLevelEnabled("debug");
  // `<boot>_<counter>`: unique per process, cheap, and never shaped like an id of Engage's.
  const boot = randomUUID().slice(0, 8);
  let counter = 0;
  Object.defineProperty(app.request, "log", {
    get(this: Request & { reqId: string; _log?: Logger }) {
      this._log ??= logger.child({ reqId: this.reqId });
      return this._log;
    },
  });
  app.use((req: Request, res: Response, next: NextFunction) => {
    const given = req.headers["x-request-id"];
    const id =
      typeof given === "string" && REQUEST_ID.test(given) ? given : `${boot}_${(++counter).toString(36)}`;
    (req as Request & { reqId: string }).reqId = id;
    res.setHeader("x-request-id", id);
    if (debug) {
      const started = performance.now();
      res.on("finish", () => {
        (req as Request & { log: Logger }).log.debug(
          {
            method: req.method,
            path: req.path,
            status: res.statusCode,
            ms: Math.round(performance.now() - started),
          },
          "request",
        );
      });
    }
    next();
  });

  // The webhook route first: it carries almost all traffic.
  mountIngestRoutes(app, options);
  if (options.adminToken) {
    app.use(
      adminRouter({
        token: options.adminToken,
        store,
        health: options.connectorHealth ?? (() => ({})),
        payloadKeyOf: (source) => options.sources.get(source)?.payloadKey,
        logger,
      }),
    );
  }

  app.get("/healthz", (_req, res) => {
    res.status(200).json({ status: "ok" });
  });
  app.get("/readyz", async (_req, res) => {
    try {
      // Load balancers and kubelets time out too: a store that hangs is answered as down within 2 s.
      await withDeadline(store.ping(), READINESS_DEADLINE_MS);
      res.status(200).json({ status: "ready", store: "up", ...options.readinessDetail?.() });
    } catch {
      res.status(503).json({ status: "not_ready", store: "down", ...options.readinessDetail?.() });
    }
  });
  app.get("/metrics", async (_req, res) => {
    res.setHeader("content-type", metrics.registry.contentType);
    res.send(await metrics.render());
  });

  const sandboxState = options.sandboxState;
  // What the fakes hold is for the person at this machine: the socket's address decides, never a
  // forwarded header.
  if (sandboxState)
    app.get("/sandbox", (req, res, next) => {
      if (!isLoopback(req.socket.remoteAddress)) return next();
      res.json(sandboxState());
    });

  app.use((_req, res) => sendError(res, 404, "not_found", "no such route"));
  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const status = (error as { status?: number }).status;
    if (typeof status === "number" && status >= 400 && status < 500) {
      return sendError(res, status, "bad_request", "the request could not be read");
    }
    (req as Request & { log?: Logger }).log?.error(
      { err: { message: (error as Error)?.message } },
      "unhandled error",
    );
    sendError(res, 500, "internal_error", "internal error");
  });
  return app;
}
