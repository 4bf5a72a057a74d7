import { safeParseEngageEvent, WebhookVerificationError } from "@engage-bridge/core";
import express, { type NextFunction, type Request, type Response, Router } from "express";
import { type ConnectorRegistry, interestedConnectors } from "../connectors/registry.ts";
import { type Logger, maskContactId } from "../logger.ts";
import type { Metrics } from "../metrics.ts";
import type { NewEvent, Store } from "../store/store.ts";
import { sendError } from "./errors.ts";
import { type PreparedSource, requiredHeadersMatch } from "./sources.ts";

export interface IngestOptions {
  sources: ReadonlyMap<string, PreparedSource>;
  store: Store;
  registry: ConnectorRegistry;
  /** Names of the enabled connectors. */
  enabledConnectors: readonly string[];
  bodyLimit: number;
  metrics: Metrics;
  logger: Logger;
  /** Called after a commit that created deliveries, with their connectors (wakes the workers). */
  onStored?: (connectors: readonly string[]) => void;
}

type Locals = { source: PreparedSource; started: bigint };

/** Reads what could be stored of a verified body, whatever its state. */
function classify(
  body: Buffer,
  svixId: string,
  source: PreparedSource,
  options: IngestOptions,
): Omit<NewEvent, "source" | "svixId" | "receivedAt" | "body"> {
  const parsed = safeParseEngageEvent(body, { messageId: svixId, payloadKey: source.payloadKey });
  if (parsed.success) {
    const event = parsed.event;
    if (event.type === "unknown") {
      return {
        eventId: event.id,
        type: event.eventType,
        status: "ignored",
        statusReason: "unknown_event_type",
        contactId: event.contactId,
        tenant: event.tenant,
        connectors: [],
      };
    }
    return {
      eventId: event.id,
      type: event.eventType,
      status: "accepted",
      contactId: event.contactId,
      tenant: event.tenant,
      connectors: interestedConnectors(options.registry, options.enabledConnectors, event.type),
    };
  }
  const { reason, envelope } = parsed.error;
  const undecryptable = reason === "undecryptable" || reason === "encrypted_without_key";
  return {
    eventId: envelope.id ?? svixId,
    type: envelope.eventType ?? "",
    status: undecryptable ? "undecryptable" : "ignored",
    statusReason: reason,
    tenant: envelope.tenant,
    connectors: [],
  };
}

export function ingestRouter(options: IngestOptions): Router {
  const { sources, store, metrics } = options;
  // Labelled counters bound once per source: resolving labels on every request shows at high rates.
  const received = new Map(
    [...sources.keys()].map((name) => [name, metrics.received.labels({ source: name })]),
  );
  // Log lines are built only when their level is on (the level does not change while running).
  const logInfo = options.logger.isLevelEnabled("info");
  const router = Router();
  const rawBody = express.raw({ type: () => true, limit: options.bodyLimit, inflate: false });

  /** Time from the request's arrival at the route to its answer (commit included). */
  const observe = (res: Response, source: string, status: number) => {
    const started = (res.locals as Partial<Locals>).started;
    if (started === undefined) return;
    metrics.ingestSeconds.observe(
      { source, code: String(status) },
      Number(process.hrtime.bigint() - started) / 1e9,
    );
  };

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
    if (logInfo) (req as Request & { log: Logger }).log.info({ source, status, reason }, "webhook rejected");
    sendError(res, status, error, message);
    observe(res, source, status);
  };

  router.post(
    "/webhooks/:source",
    (req, res, next) => {
      const source = sources.get(String(req.params.source));
      res.locals.started = process.hrtime.bigint();
      if (!source) return reject(req, res, 404, "unknown_source", "no such webhook source");
      res.locals.source = source;
      received.get(source.name)?.inc();
      res.on("finish", () => {
        const seconds = Number(process.hrtime.bigint() - (res.locals as Locals).started) / 1e9;
        metrics.ingestSeconds.observe({ source: source.name, code: String(res.statusCode) }, seconds);
      });
      // A declared length over the limit is refused before the body is read (or even sent).
      if (Number(req.get("content-length")) > options.bodyLimit) {
        res.setHeader("Connection", "close");
        return reject(req, res, 413, "payload_too_large", "body is larger than the limit");
      }
      next();
    },
    rawBody,
    async (req: Request, res: Response) => {
      const source = (res.locals as Locals).source;
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);

      if (source.ipAllowed && !source.ipAllowed(req.ip)) {
        return reject(req, res, 403, "ip_not_allowed", "client address is not allowed for this source");
      }
      if (!requiredHeadersMatch(source, req.headers)) {
        return reject(req, res, 403, "forbidden", "a required header is missing or wrong", "required_header");
      }
      let svixId: string;
      try {
        svixId = source.verifier.verify(body, req.headers).id;
      } catch (error) {
        if (error instanceof WebhookVerificationError) {
          return reject(req, res, 401, "invalid_signature", error.message, error.reason);
        }
        throw error;
      }
      if (svixId.length > 256) {
        return reject(req, res, 401, "invalid_signature", "message id is too long", "malformed_id");
      }
      if (source.bucket) {
        const waitMs = source.bucket.take();
        if (waitMs > 0) {
          res.setHeader("Retry-After", String(Math.max(1, Math.ceil(waitMs / 1000))));
          return reject(req, res, 429, "rate_limited", "too many requests for this source");
        }
      }

      const classified = classify(body, svixId, source, options);
      let outcome: Awaited<ReturnType<Store["insertEvent"]>>;
      try {
        outcome = await store.insertEvent({
          ...classified,
          source: source.name,
          svixId,
          receivedAt: new Date(),
          body,
        });
      } catch (error) {
        (req as Request & { log?: Logger }).log?.error(
          { err: { message: (error as Error).message }, source: source.name },
          "store unavailable",
        );
        return reject(req, res, 503, "store_unavailable", "the event could not be stored; retry later");
      }
      metrics.accepted.inc({ source: source.name, outcome, status: classified.status });
      if (outcome === "stored" && classified.connectors.length > 0) options.onStored?.(classified.connectors);
      if (logInfo) {
        (req as Request & { log: Logger }).log.info(
          {
            source: source.name,
            eventId: classified.eventId,
            eventType: classified.type,
            status: classified.status,
            statusReason: classified.statusReason,
            contact: maskContactId(classified.contactId),
            deliveries: classified.connectors.length,
            outcome,
          },
          outcome === "duplicate" ? "webhook duplicate" : "webhook stored",
        );
      }
      res.status(204).end();
      observe(res, source.name, 204);
    },
  );

  router.all("/webhooks/:source", (req, res) => {
    if (!sources.has(String(req.params.source)))
      return reject(req, res, 404, "unknown_source", "no such webhook source");
    res.setHeader("Allow", "POST");
    reject(req, res, 405, "method_not_allowed", "webhooks are POSTed", "method");
  });

  // Body-parser failures on this route: size first, as the contract orders the checks.
  router.use("/webhooks", (error: unknown, req: Request, res: Response, next: NextFunction) => {
    const type = (error as { type?: string }).type;
    if (type === "entity.too.large")
      return reject(req, res, 413, "payload_too_large", "body is larger than the limit");
    if (type === "encoding.unsupported") {
      return reject(req, res, 415, "unsupported_encoding", "content encoding is not supported", "encoding");
    }
    if (type === "request.aborted" || type === "request.size.invalid" || type === "stream.encoding.set") {
      return reject(req, res, 400, "bad_request", "the request body could not be read", "body");
    }
    next(error);
  });
  return router;
}
