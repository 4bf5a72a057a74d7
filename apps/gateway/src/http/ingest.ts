import { WebhookVerificationError } from "@engage-bridge/core";
import { context, type Span, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type { Express, Request, Response } from "express";
import type { Router as EventRouter } from "../connectors/routing.ts";
import { type Logger, maskContactId, preparedLine } from "../logger.ts";
import { boundBy, type Metrics } from "../metrics.ts";
import type { InsertOutcome, Store } from "../store/store.ts";
import { traceparentOf, tracer } from "../tracing.ts";
import { classify } from "./classify.ts";
import { sendError } from "./errors.ts";
import { InflightBudget } from "./inflight.ts";
import { type BodyError, readBody } from "./read-body.ts";
import { type PreparedSource, requiredHeadersMatch } from "./sources.ts";

export interface IngestOptions {
  sources: ReadonlyMap<string, PreparedSource>;
  store: Store;
  /** The enabled connector instances an event goes to. */
  route: EventRouter;
  bodyLimit: number;
  /** Bytes that bodies may hold in memory across all connections; beyond it 503 + Retry-After. */
  maxInflightBytes?: number;
  metrics: Metrics;
  logger: Logger;
  /** Called after a commit that created deliveries, with their connectors (wakes the workers). */
  onStored?: (connectors: readonly string[]) => void;
}

type Locals = { source: PreparedSource; span: Span };

/**
 * Tracing (a no-op unless tracing.ts started the SDK): one `engage-bridge.ingest` span per webhook
 * request, a child of the HTTP server span, with children `engage-bridge.verify` (the signature) and
 * `engage-bridge.commit` (the store's group commit). Its `traceparent` is stored with the event, so
 * that delivery spans link to it. Attributes name the source, svix and event ids, the event type and
 * the outcome (status code, reason code): never a contact, a header or the body.
 */
const ROUTE = "/webhooks/:source";
const spanOf = (res: Response): Span | undefined => (res.locals as Partial<Locals>).span;

function startIngestSpan(res: Response): Span {
  const server = trace.getActiveSpan();
  if (server?.isRecording()) {
    server.updateName(`POST ${ROUTE}`);
    server.setAttribute("http.route", ROUTE);
  }
  const span = tracer().startSpan("engage-bridge.ingest", { kind: SpanKind.INTERNAL });
  res.locals.span = span;
  // With tracing off the span is the API's no-op: nothing to end, no listener to pay for.
  if (!span.isRecording()) return span;
  res.on("close", () => {
    span.setAttribute("http.response.status_code", res.statusCode);
    if (!res.writableFinished) span.setAttribute("engage_bridge.ingest.aborted", true);
    if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  });
  return span;
}

/** A child span of the request's ingest span (the caller ends it). */
const childSpan = (res: Response, name: string): Span => {
  const parent = spanOf(res);
  // Tracing off (the default): the parent is the API's no-op span; its children would be too.
  if (parent && !parent.isRecording()) return parent;
  return tracer().startSpan(
    name,
    { kind: SpanKind.INTERNAL },
    parent ? trace.setSpan(context.active(), parent) : context.active(),
  );
};

/** Ends a child span that failed, naming the error's class only (messages may quote data). */
const failSpan = (span: Span, error: unknown) => {
  span.setAttribute("error.type", error instanceof Error ? error.constructor.name : "unknown");
  span.setStatus({ code: SpanStatusCode.ERROR });
  span.end();
};

const reqIdOf = (req: Request): string | undefined => (req as Request & { reqId?: string }).reqId;

const sameBytes = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

/**
 * Mounts the webhook routes on the app itself, not on a nested Router: a mounted router costs every
 * request a second dispatch (closures, prefix trimming, params merging), ~15 % of the webhook path's
 * allocations under load (docs/benchmarks.md).
 */
export function mountIngestRoutes(app: Express, options: IngestOptions): void {
  const { sources, store, metrics } = options;
  // Labelled metrics bound once per label values: resolving labels on every request shows at high rates.
  const received = boundBy((source) => metrics.received.labels({ source }));
  const accepted = boundBy((source, outcome, status) => metrics.accepted.labels({ source, outcome, status }));
  const ingestSeconds = boundBy((source, code) => metrics.ingestSeconds.labels({ source, code }));
  // Log lines are built only when their level is on (the level does not change while running).
  // The per-event lines name the request id themselves: a child logger per request (req.log, for
  // the rare lines) would cost more than the line.
  const logger = options.logger;
  const logInfo = logger.isLevelEnabled("info");
  // The line of every stored webhook: prepared once, it skips pino's per-object work (logger.ts).
  const storedLine = preparedLine(logger, "info", "webhook stored", [
    "reqId",
    "source",
    "eventId",
    "eventType",
    "status",
    "statusReason",
    "contact",
    "deliveries",
    "outcome",
  ]);
  const inflight = new InflightBudget(options.maxInflightBytes ?? 64 * 1024 * 1024);
  // One routing closure per source, made once: the source is part of what a filter may match.
  const connectorsFor = new Map(
    [...sources.keys()].map((name) => [
      name,
      (type: string, tenant: string | undefined) => options.route({ type, tenant, source: name }),
    ]),
  );
  const noConnectors = () => [];

  const reject = (
    req: Request,
    res: Response,
    status: number,
    error: string,
    message: string,
    reason = error,
  ) => {
    const source = (res.locals as Partial<Locals>).source?.name ?? "unknown";
    metrics.rejected.inc({ source, reason });
    spanOf(res)?.setAttributes({
      "engage_bridge.ingest.outcome": "rejected",
      "engage_bridge.ingest.reason": reason,
    });
    if (logInfo) logger.info({ reqId: reqIdOf(req), source, status, reason }, "webhook rejected");
    sendError(res, status, error, message);
  };

  /** A body that could not be read: too large, encoded, or its client gone mid-body. */
  const rejectUnreadBody = (req: Request, res: Response, error: BodyError) => {
    if (error.type === "entity.too.large")
      return reject(req, res, 413, "payload_too_large", "body is larger than the limit");
    if (error.type === "encoding.unsupported")
      return reject(req, res, 415, "unsupported_encoding", "content encoding is not supported", "encoding");
    reject(req, res, 400, "bad_request", "the request body could not be read", "body");
  };

  const storeFailed = (req: Request, res: Response, source: string, error: unknown) => {
    (req as Request & { log?: Logger }).log?.error(
      { err: { message: (error as Error).message }, source },
      "store unavailable",
    );
    reject(req, res, 503, "store_unavailable", "the event could not be stored; retry later");
  };

  /**
   * A redelivery keeps what was stored first. A different body under the same svix-id is not Svix
   * (it signs one body per message): worth a warning and a count, never the body itself in a log.
   */
  const noteRedelivery = (req: Request, source: string, svixId: string, stored: Uint8Array, body: Buffer) => {
    if (sameBytes(stored, body)) return;
    metrics.redeliveredDifferentBody.inc({ source });
    (req as Request & { log: Logger }).log.warn(
      { source, svixId, storedBytes: stored.byteLength, receivedBytes: body.byteLength },
      "redelivered svix-id with a different body: the stored body is kept",
    );
  };

  const acknowledgeDuplicate = (req: Request, res: Response, source: PreparedSource, status: string) => {
    accepted(source.name, "duplicate", status).inc();
    spanOf(res)?.setAttributes({
      "engage_bridge.ingest.outcome": "duplicate",
      "engage_bridge.event.status": status,
    });
    if (logInfo) logger.info({ reqId: reqIdOf(req), source: source.name }, "webhook duplicate");
    res.status(204).end();
  };

  app.post(
    "/webhooks/:source",
    (req, res, next) => {
      const started = process.hrtime.bigint();
      const span = startIngestSpan(res);
      const source = sources.get(String(req.params.source));
      // One listener per request for what follows the answer: the in-flight bytes are given back
      // however the request ends; the duration is observed for an answer that was sent.
      let release: (() => void) | undefined;
      res.on("close", () => {
        release?.();
        if (!res.writableFinished) return;
        ingestSeconds(source?.name ?? "unknown", String(res.statusCode)).observe(
          Number(process.hrtime.bigint() - started) / 1e9,
        );
      });
      if (!source) return reject(req, res, 404, "unknown_source", "no such webhook source");
      res.locals.source = source;
      span.setAttribute("engage_bridge.source", source.name);
      received(source.name).inc();
      // The IP check needs no body: a refused client never gets to send (or have us buffer) one.
      if (source.ipAllowed && !source.ipAllowed(req.ip)) {
        res.setHeader("Connection", "close");
        return reject(req, res, 403, "ip_not_allowed", "client address is not allowed for this source");
      }
      // A declared length over the limit is refused before the body is read (or even sent).
      const declared = Number(req.get("content-length"));
      if (declared > options.bodyLimit) {
        res.setHeader("Connection", "close");
        return reject(req, res, 413, "payload_too_large", "body is larger than the limit");
      }
      release = inflight.reserve(Number.isFinite(declared) && declared >= 0 ? declared : options.bodyLimit);
      if (!release) {
        res.setHeader("Retry-After", "1");
        res.setHeader("Connection", "close");
        return reject(
          req,
          res,
          503,
          "overloaded",
          "too many request bytes in flight; retry later",
          "inflight_bytes",
        );
      }
      readBody(req, options.bodyLimit, (error, body) => {
        if (error) return rejectUnreadBody(req, res, error);
        req.body = body;
        next();
      });
    },
    async (req: Request, res: Response) => {
      const source = (res.locals as Locals).source;
      const body = req.body as Buffer;

      if (!requiredHeadersMatch(source, req.headers)) {
        return reject(req, res, 403, "forbidden", "a required header is missing or wrong", "required_header");
      }
      let svixId: string;
      const verifySpan = childSpan(res, "engage-bridge.verify");
      try {
        svixId = source.verifier.verify(body, req.headers).id;
        verifySpan.setAttribute("engage_bridge.verify.outcome", "valid");
        verifySpan.end();
      } catch (error) {
        if (error instanceof WebhookVerificationError) {
          verifySpan.setAttributes({
            "engage_bridge.verify.outcome": "invalid",
            "engage_bridge.verify.reason": error.reason,
          });
          verifySpan.end();
          return reject(req, res, 401, "invalid_signature", error.message, error.reason);
        }
        failSpan(verifySpan, error);
        throw error;
      }
      spanOf(res)?.setAttribute("engage_bridge.svix_id", svixId.slice(0, 256));
      if (svixId.length > 256) {
        return reject(req, res, 401, "invalid_signature", "message id is too long", "malformed_id");
      }
      if (source.bucket) {
        // Redeliveries are answered before the rate limit: they cost nothing, so they spend no budget.
        let stored: Uint8Array | undefined;
        try {
          stored = await store.storedBody(source.name, svixId);
        } catch (error) {
          return storeFailed(req, res, source.name, error);
        }
        if (stored) {
          noteRedelivery(req, source.name, svixId, stored, body);
          return acknowledgeDuplicate(
            req,
            res,
            source,
            classify(stored, svixId, source.payloadKey, noConnectors).status,
          );
        }
        const waitMs = source.bucket.take();
        if (waitMs > 0) {
          res.setHeader("Retry-After", String(Math.max(1, Math.ceil(waitMs / 1000))));
          return reject(req, res, 429, "rate_limited", "too many requests for this source");
        }
      }

      const classified = classify(
        body,
        svixId,
        source.payloadKey,
        connectorsFor.get(source.name) ?? noConnectors,
      );
      const ingestSpan = spanOf(res);
      ingestSpan?.setAttributes({
        // Both come from a verified body, but an ignored one may say anything: bounded.
        "engage_bridge.event.id": classified.eventId.slice(0, 256),
        "engage_bridge.event.type": classified.type.slice(0, 128),
        "engage_bridge.event.status": classified.status,
        "engage_bridge.deliveries": classified.connectors.length,
      });
      let outcome: InsertOutcome;
      const commitSpan = childSpan(res, "engage-bridge.commit");
      try {
        outcome = await store.insertEvent({
          ...classified,
          source: source.name,
          svixId,
          receivedAt: new Date(),
          body,
          // Delivery spans link to the ingest span (and follow it in the same trace).
          traceparent: ingestSpan && traceparentOf(ingestSpan),
        });
        commitSpan.setAttributes({
          "engage_bridge.commit.outcome": outcome,
          "engage_bridge.deliveries": classified.connectors.length,
        });
        commitSpan.end();
      } catch (error) {
        failSpan(commitSpan, error);
        return storeFailed(req, res, source.name, error);
      }
      if (outcome === "duplicate") {
        // The stored body is read only for a duplicate: the common path pays nothing for the check.
        const stored = await store.storedBody(source.name, svixId).catch(() => undefined);
        if (stored) noteRedelivery(req, source.name, svixId, stored, body);
        return acknowledgeDuplicate(req, res, source, classified.status);
      }
      res.status(204).end();
      // The bookkeeping waits until the rest of the group is answered too: a group's requests resume
      // one after another once its commit returns, and a client sends its next webhook only once
      // answered, so the log line (~10 µs) of each would delay every answer behind it (+4–8 %
      // throughput under load, docs/benchmarks.md). The event is committed either way. Being outside
      // the route's error handling, it catches its own errors: a throw would crash the process.
      queueMicrotask(() => {
        try {
          accepted(source.name, outcome, classified.status).inc();
          ingestSpan?.setAttribute("engage_bridge.ingest.outcome", "accepted");
          if (classified.connectors.length > 0) options.onStored?.(classified.connectors);
          if (!logInfo) return;
          storedLine({
            reqId: reqIdOf(req),
            source: source.name,
            eventId: classified.eventId,
            eventType: classified.type,
            status: classified.status,
            statusReason: classified.statusReason,
            contact: maskContactId(classified.contactId),
            deliveries: classified.connectors.length,
            outcome,
          });
        } catch (error) {
          logger.error({ err: { message: (error as Error)?.message } }, "after a stored webhook's answer");
        }
      });
    },
  );

  app.all("/webhooks/:source", (req, res) => {
    if (!sources.has(String(req.params.source)))
      return reject(req, res, 404, "unknown_source", "no such webhook source");
    res.setHeader("Allow", "POST");
    reject(req, res, 405, "method_not_allowed", "webhooks are POSTed", "method");
  });
}
