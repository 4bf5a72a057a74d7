import { createHash, timingSafeEqual } from "node:crypto";
import express, { type NextFunction, type Request, type Response, Router } from "express";
import { z } from "zod";
import { DELIVERY_STATUSES, type Store } from "../store/store.ts";
import { DASHBOARD_HTML } from "./dashboard.ts";
import { sendError } from "./errors.ts";

const digest = (value: string) => createHash("sha256").update(value, "utf8").digest();

/** Rows per answer: bounded, so that one request cannot make the gateway read a whole table. */
const limit = z.coerce.number().int().min(1).max(10_000).default(100);
const eventsQuery = z.object({
  status: z.enum(["accepted", "ignored", "undecryptable"]).optional(),
  type: z.string().min(1).optional(),
  limit,
});
const deliveriesQuery = z.object({
  status: z.enum(DELIVERY_STATUSES).optional(),
  connector: z.string().min(1).optional(),
  event: z.string().min(1).optional(),
  limit,
});
const replayBody = z
  .strictObject({
    event: z.string().min(1).optional(),
    status: z.literal("dead").optional(),
    connector: z.string().min(1).optional(),
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
}): Router {
  const { store } = options;
  const expected = digest(options.token);
  const router = Router();

  // The page holds no data: it asks for the token and calls the API with it.
  router.get("/admin/", (_req, res) => {
    res.setHeader(
      "content-security-policy",
      "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:",
    );
    res.type("html").send(DASHBOARD_HTML);
  });
  router.get("/admin", (_req, res) => res.redirect(308, "/admin/"));

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

  router.get("/admin/stats", async (_req, res) => {
    const { pendingByConnector, ...stats } = await store.stats();
    res.json({ ...stats, pendingByConnector, connectors: options.health() });
  });
  router.get("/admin/events", async (req, res) => {
    const q = parse(eventsQuery, req.query, res);
    if (q) res.json(await store.listEvents(q));
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
    if (b)
      res.json({
        requeued: await store.replay({ eventId: b.event, status: b.status, connector: b.connector }),
      });
  });
  router.use("/admin", (_req, res) => sendError(res, 404, "not_found", "no such admin route"));
  return router;
}
