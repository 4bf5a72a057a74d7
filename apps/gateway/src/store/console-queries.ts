import { normalizeContactId } from "./contact-of.ts";
import { iso, nextAttemptOf, type Row, toStoredEvent } from "./rows.ts";
import type {
  ActivityQuery,
  ConsentDecision,
  DeliveryStatus,
  EventActivity,
  EventDetail,
  EventPage,
  EventQuery,
  ReplayQuery,
} from "./store.ts";

/**
 * The operator console's read queries (find, event detail, activity) and replay's filter, written
 * once for both stores: `?` placeholders (SQLite's), which {@link numbered} turns into PostgreSQL's
 * `$n`. Times are integer milliseconds in both schemas; `t - t % size` buckets them in both (SQLite
 * binds a JS number as REAL, so `t / size` would not be integer division there, `%` is).
 */

export type Param = string | number;
export interface SqlQuery {
  sql: string;
  params: Param[];
}

/** `?` → `$first`, `$first+1`, … (PostgreSQL). The SQL here holds no `?` inside literals. */
export function numbered(sql: string, first = 1): string {
  let n = first;
  return sql.replace(/\?/g, () => `$${n++}`);
}

/** A page position: the last row's receipt time and row id, opaque to callers. */
export function encodeCursor(receivedAt: number, ref: number): string {
  return Buffer.from(JSON.stringify([receivedAt, ref]), "utf8").toString("base64url");
}

/** The position a cursor names, or undefined when it is not one this store wrote. */
export function decodeCursor(cursor: string): { receivedAt: number; ref: number } | undefined {
  try {
    const value = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as unknown;
    if (!Array.isArray(value) || value.length !== 2) return undefined;
    const [receivedAt, ref] = value as unknown[];
    if (!Number.isSafeInteger(receivedAt) || !Number.isSafeInteger(ref)) return undefined;
    return { receivedAt: receivedAt as number, ref: ref as number };
  } catch {
    return undefined;
  }
}

class Where {
  readonly parts: string[] = [];
  readonly params: Param[] = [];
  add(clause: string, ...values: Param[]): void {
    this.parts.push(clause);
    this.params.push(...values);
  }
  get sql(): string {
    return this.parts.length ? `WHERE ${this.parts.join(" AND ")}` : "";
  }
}

const EVENT_COLUMNS =
  "e.id AS ref, e.event_id, e.svix_id, e.source, e.type, e.status, e.status_reason, e.contact_id, e.received_at";

/** Newest first; one row more than the page, to know whether another page follows. */
export function eventSearchSql(q: EventQuery): SqlQuery {
  const where = new Where();
  if (q.id) where.add("(e.event_id = ? OR e.svix_id = ?)", q.id, q.id);
  if (q.contactId) where.add("e.contact_id = ?", normalizeContactId(q.contactId));
  if (q.type) where.add("e.type = ?", q.type);
  if (q.status) where.add("e.status = ?", q.status);
  if (q.source) where.add("e.source = ?", q.source);
  if (q.since) where.add("e.received_at >= ?", q.since.getTime());
  if (q.until) where.add("e.received_at < ?", q.until.getTime());
  if (q.connector || q.deliveryStatus) {
    const sub = new Where();
    sub.add("d.event_ref = e.id");
    if (q.connector) sub.add("d.connector = ?", q.connector);
    if (q.deliveryStatus) sub.add("d.status = ?", q.deliveryStatus);
    where.add(`EXISTS (SELECT 1 FROM deliveries d ${sub.sql})`, ...sub.params);
  }
  if (q.cursor) {
    const at = decodeCursor(q.cursor);
    if (!at) throw new RangeError("cursor is not one this gateway wrote");
    where.add(
      "(e.received_at < ? OR (e.received_at = ? AND e.id < ?))",
      at.receivedAt,
      at.receivedAt,
      at.ref,
    );
  }
  const limit = q.limit > 0 ? " LIMIT ?" : "";
  return {
    sql: `SELECT ${EVENT_COLUMNS} FROM events e ${where.sql} ORDER BY e.received_at DESC, e.id DESC${limit}`,
    params: q.limit > 0 ? [...where.params, q.limit + 1] : where.params,
  };
}

export function toEventPage(rows: readonly Row[], limit: number): EventPage {
  const more = limit > 0 && rows.length > limit;
  const page = more ? rows.slice(0, limit) : rows;
  const last = page.at(-1);
  return {
    items: page.map(toStoredEvent),
    nextCursor: more && last ? encodeCursor(Number(last.received_at), Number(last.ref)) : null,
  };
}

/** The newest event with this Engage event id or svix id (ids repeat only across sources). */
export function eventByIdSql(id: string): SqlQuery {
  return {
    sql: `SELECT ${EVENT_COLUMNS}, e.tenant, e.traceparent, e.body FROM events e
          WHERE e.event_id = ? OR e.svix_id = ? ORDER BY e.received_at DESC, e.id DESC LIMIT 1`,
    params: [id, id],
  };
}

export function deliveriesOfSql(ref: number): SqlQuery {
  return {
    sql: `SELECT id, connector, status, attempts, last_error, next_attempt_at, updated_at
          FROM deliveries WHERE event_ref = ? ORDER BY connector`,
    params: [ref],
  };
}

export function attemptsOfSql(ref: number): SqlQuery {
  return {
    sql: `SELECT a.delivery_ref, a.attempt, a.started_at, a.duration_ms, a.outcome, a.error, a.target_status, a.detail
          FROM attempts a JOIN deliveries d ON d.id = a.delivery_ref
          WHERE d.event_ref = ? ORDER BY a.started_at, a.id`,
    params: [ref],
  };
}

const traceIdOf = (traceparent: unknown) =>
  typeof traceparent === "string" ? (/^[\da-f]{2}-([\da-f]{32})-/.exec(traceparent)?.[1] ?? null) : null;

function consentOf(detail: unknown): ConsentDecision | null {
  if (typeof detail !== "string") return null;
  try {
    return (JSON.parse(detail) as { consent?: ConsentDecision }).consent ?? null;
  } catch {
    return null;
  }
}

export function toEventDetail(event: Row, deliveries: readonly Row[], attempts: readonly Row[]): EventDetail {
  return {
    event: {
      ...toStoredEvent(event),
      tenant: (event.tenant as string | null) ?? null,
      traceId: traceIdOf(event.traceparent),
    },
    deliveries: deliveries.map((d) => {
      const status = d.status as DeliveryStatus;
      return {
        connector: String(d.connector),
        status,
        attempts: attempts
          .filter((a) => Number(a.delivery_ref) === Number(d.id))
          .map((a) => ({
            attempt: Number(a.attempt),
            at: iso(a.started_at),
            durationMs: Number(a.duration_ms),
            outcome: a.outcome as "delivered" | "skipped" | "retry" | "dead",
            error: (a.error as string | null) ?? null,
            targetStatus: a.target_status == null ? null : Number(a.target_status),
            consent: consentOf(a.detail),
          })),
        nextAttemptAt: nextAttemptOf(status, d.next_attempt_at),
        lastError: (d.last_error as string | null) ?? null,
        updatedAt: iso(d.updated_at),
      };
    }),
    body: event.body as Uint8Array,
  };
}

export function eventActivitySql(q: ActivityQuery): SqlQuery {
  return {
    sql: `SELECT received_at - received_at % ? AS t, COUNT(*) AS n FROM events
          WHERE received_at >= ? AND received_at < ? GROUP BY 1`,
    params: [q.bucketMs, q.from.getTime(), q.to.getTime()],
  };
}

export function attemptActivitySql(q: ActivityQuery): SqlQuery {
  return {
    sql: `SELECT d.connector, a.started_at - a.started_at % ? AS t, a.outcome, COUNT(*) AS n
          FROM attempts a JOIN deliveries d ON d.id = a.delivery_ref
          WHERE a.started_at >= ? AND a.started_at < ?
          GROUP BY 1, 2, 3`,
    params: [q.bucketMs, q.from.getTime(), q.to.getTime()],
  };
}

const OUTCOMES = ["delivered", "skipped", "retry", "dead"] as const;

/** Contiguous, zero-filled buckets from `from` (floored to a bucket) up to `to`. */
export function toActivity(
  q: ActivityQuery,
  events: readonly Row[],
  attempts: readonly Row[],
): EventActivity {
  const first = Math.floor(q.from.getTime() / q.bucketMs) * q.bucketMs;
  const starts: number[] = [];
  for (let t = first; t < q.to.getTime(); t += q.bucketMs) starts.push(t);
  const eventCounts = new Map(events.map((r) => [Number(r.t), Number(r.n)]));
  const byConnector = new Map<string, Map<number, Record<(typeof OUTCOMES)[number], number>>>();
  for (const r of attempts) {
    const connector = String(r.connector);
    const buckets = byConnector.get(connector) ?? new Map();
    byConnector.set(connector, buckets);
    const t = Number(r.t);
    const counts = buckets.get(t) ?? { delivered: 0, skipped: 0, retry: 0, dead: 0 };
    const outcome = r.outcome as (typeof OUTCOMES)[number];
    if (OUTCOMES.includes(outcome)) counts[outcome] += Number(r.n);
    buckets.set(t, counts);
  }
  return {
    bucketMs: q.bucketMs,
    events: starts.map((t) => ({ t: iso(t), n: eventCounts.get(t) ?? 0 })),
    deliveries: Object.fromEntries(
      [...byConnector.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([connector, buckets]) => [
          connector,
          starts.map((t) => ({
            t: iso(t),
            ...(buckets.get(t) ?? { delivered: 0, skipped: 0, retry: 0, dead: 0 }),
          })),
        ]),
    ),
  };
}

/** Which finished deliveries a replay takes: `WHERE` over `deliveries d`. */
export function replayFilterSql(q: ReplayQuery): SqlQuery {
  const where = new Where();
  where.add("d.status IN ('delivered', 'skipped', 'dead')");
  if (q.status) where.add("d.status = ?", q.status);
  if (q.connector) where.add("d.connector = ?", q.connector);
  if (q.eventId)
    where.add(
      "d.event_ref IN (SELECT id FROM events WHERE event_id = ? OR svix_id = ?)",
      q.eventId,
      q.eventId,
    );
  if (q.since || q.until) {
    const sub = new Where();
    if (q.since) sub.add("received_at >= ?", q.since.getTime());
    if (q.until) sub.add("received_at < ?", q.until.getTime());
    where.add(`d.event_ref IN (SELECT id FROM events ${sub.sql})`, ...sub.params);
  }
  return { sql: where.sql, params: where.params };
}
