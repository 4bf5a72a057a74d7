import { createHash, timingSafeEqual } from "node:crypto";
import express, { type NextFunction, type Request, type Response, Router } from "express";
import { z } from "zod";
import type { Logger } from "../logger.ts";
import { decodeCursor } from "../store/console-queries.ts";
import { DELIVERY_STATUSES, EVENT_STATUSES, type Store } from "../store/store.ts";
import { consoleRouter } from "./console.ts";
import { sendError } from "./errors.ts";
import { payloadView } from "./payload-view.ts";

const digest = (value: string) => createHash("sha256").update(value, "utf8").digest();

/** Rows per answer: bounded, so that one request cannot make the gateway read a whole table. */
const limit = z.coerce.number().int().min(1).max(10_000).default(100);
const time = z.iso.datetime({ offset: true }).transform((v) => new Date(v));
const eventsQuery = z.strictObject({
  id: z.string().min(1).optional(),
  contact: z.string().min(1).optional(),
  status: z.enum(EVENT_STATUSES).optional(),
  type: z.string().min(1).optional(),
  source: z.string().min(1).optional(),
  connector: z.string().min(1).optional(),
  deliveryStatus: z.enum(DELIVERY_STATUSES).optional(),
  since: time.optional(),
  until: time.optional(),
  cursor: z
    .string()
    .refine((c) => decodeCursor(c) !== undefined, "not a cursor this gateway wrote")
    .optional(),
  limit,
});
const deliveriesQuery = z.object({
  status: z.enum(DELIVERY_STATUSES).optional(),
  connector: z.string().min(1).optional(),
  event: z.string().min(1).optional(),
  limit,
});
const overviewQuery = z.strictObject({ window: z.enum(["hour", "day"]).default("hour") });
/** Buckets per window: a minute over the last hour, a quarter of an hour over the last day. */
const WINDOWS = {
  hour: { spanMs: 3_600_000, bucketMs: 60_000 },
  day: { spanMs: 86_400_000, bucketMs: 900_000 },
} as const;
const replayBody = z
  .strictObject({
    event: z.string().min(1).optional(),
    status: z.enum(["dead", "skipped", "delivered"]).optional(),
    connector: z.string().min(1).optional(),
    since: time.optional(),
    until: time.optional(),
    dryRun: z.boolean().optional(),
  })
  .refine((b) => b.event !== undefined || b.status !== undefined, "replay needs event or status");

/**
 * The admin API (`admin.token`, Bearer): what the CLI's read commands and `replay` show and do, as
 * JSON, for the dashboard at `/admin/` and for scripts. Answers may carry contact ids (like the CLI);
 * they never carry bodies, emails or secrets.
 */
export function adminRouter(options: {
  token: string;
  store: Store;
  health: () => Record<string, unknown>;
  /** The `payloadKey` of a source, to show encrypted payloads decrypted. */
  payloadKeyOf?: (source: string) => string | undefined;
  logger?: Logger;
}): Router {
  const { store } = options;
  const expected = digest(options.token);
  const router = Router();

  // The console's files hold no data: the page asks for the token and calls the API with it.
  router.use(consoleRouter());

  router.use("/admin", (req: Request, res: Response, next: NextFunction) => {
    const header = req.get("authorization") ?? "";
    const given = header.startsWith("Bearer ") ? header.slice(7) : "";
    // Hashing both sides keeps the comparison constant-time whatever the lengths.
    if (!timingSafeEqual(digest(given), expected) || given.length === 0) {
      res.setHeader("www-authenticate", 'Bearer realm="engage-bridge admin"');
      return sendError(res, 401, "unauthorized", "a valid admin bearer token is required");
    }
    res.setHeader("cache-control", "no-store");
    next();
  });

  const parse = <T extends z.ZodType>(schema: T, value: unknown, res: Response): z.output<T> | undefined => {
    const parsed = schema.safeParse(value);
    if (parsed.success) return parsed.data;
    sendError(
      res,
      400,
      "bad_request",
      parsed.error.issues.map((i) => `${i.path.join(".") || "query"}: ${i.message}`).join("; "),
    );
    return undefined;
  };

  const statsWithHealth = async () => ({ ...(await store.stats()), connectors: options.health() });
  router.get("/admin/stats", async (_req, res) => res.json(await statsWithHealth()));
  router.get("/admin/overview", async (req, res) => {
    const q = parse(overviewQuery, req.query, res);
    if (!q) return;
    const { spanMs, bucketMs } = WINDOWS[q.window];
    const to = new Date();
    const from = new Date(Math.floor((to.getTime() - spanMs) / bucketMs + 1) * bucketMs);
    const [activity, stats] = await Promise.all([store.activity({ from, to, bucketMs }), statsWithHealth()]);
    const { queueDepth, oldestPendingSeconds, pendingByConnector, connectors } = stats;
    res.json({
      window: q.window,
      bucketSeconds: bucketMs / 1000,
      from: from.toISOString(),
      to: to.toISOString(),
      events: activity.events,
      deliveries: activity.deliveries,
      queueDepth,
      oldestPendingSeconds,
      pendingByConnector,
      connectors,
    });
  });
  router.get("/admin/events", async (req, res) => {
    const q = parse(eventsQuery, req.query, res);
    if (!q) return;
    const { contact, ...rest } = q;
    res.json(await store.findEvents({ ...rest, contactId: contact }));
  });
  router.get("/admin/events/:id", async (req, res) => {
    const found = await store.eventDetail(String(req.params.id));
    if (!found) return sendError(res, 404, "not_found", "no event with this id or svix id");
    const { body: _body, ...detail } = found;
    res.json(detail);
  });
  router.get("/admin/events/:id/payload", async (req, res) => {
    const found = await store.eventDetail(String(req.params.id));
    if (!found) return sendError(res, 404, "not_found", "no event with this id or svix id");
    // Payloads hold personal data: who looked at which event is worth a line (never what they saw).
    options.logger?.info({ eventId: found.event.id, source: found.event.source }, "admin: payload viewed");
    res.json(payloadView(found.body, options.payloadKeyOf?.(found.event.source)));
  });
  router.get("/admin/deliveries", async (req, res) => {
    const q = parse(deliveriesQuery, req.query, res);
    if (q)
      res.json(
        await store.listDeliveries({
          status: q.status,
          connector: q.connector,
          eventId: q.event,
          limit: q.limit,
        }),
      );
  });
  router.post("/admin/replay", express.json({ limit: "16kb" }), async (req, res) => {
    const b = parse(replayBody, req.body ?? {}, res);
    if (!b) return;
    const query = {
      eventId: b.event,
      status: b.status,
      connector: b.connector,
      since: b.since,
      until: b.until,
    };
    if (b.dryRun) return res.json({ dryRun: true, matches: await store.replay({ ...query, dryRun: true }) });
    res.json({ requeued: await store.replay(query) });
  });
  router.use("/admin", (_req, res) => sendError(res, 404, "not_found", "no such admin route"));
  return router;
}
