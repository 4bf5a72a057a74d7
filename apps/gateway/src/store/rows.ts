import type {
  AttemptRecord,
  DeliveryStatus,
  EventStatus,
  LeasedDelivery,
  StoredDelivery,
  StoredEvent,
  StoreStats,
} from "./store.ts";

/** A result row, whichever driver read it (times are integer milliseconds in both stores). */
export type Row = Record<string, unknown>;

/**
 * `WHERE` clause and parameters from optional filters: each `[sql, ...values]` entry (placeholders
 * written `?`) applies only when its first value is defined and not empty (an entry with no values
 * always applies). With `firstParam`, placeholders become `$n` numbered from it (PostgreSQL).
 */
export function whereOf(
  filters: readonly (readonly [string, ...(string | number | undefined)[]])[],
  firstParam?: number,
): { sql: string; params: (string | number)[] } {
  const parts: string[] = [];
  const params: (string | number)[] = [];
  for (const [clause, ...values] of filters) {
    if (values.length > 0 && (values[0] === undefined || values[0] === "")) continue;
    parts.push(clause);
    params.push(...(values as (string | number)[]));
  }
  let n = firstParam ?? 0;
  const joined = parts.join(" AND ");
  const sql = firstParam === undefined ? joined : joined.replace(/\?/g, () => `$${n++}`);
  return { sql: parts.length ? `WHERE ${sql}` : "", params };
}

/** The JSON kept beside an attempt (its consent decision), or null. */
export const attemptDetail = (attempt: AttemptRecord): string | null =>
  attempt.consent ? JSON.stringify({ consent: attempt.consent }) : null;

export const iso = (ms: unknown) => new Date(Number(ms)).toISOString();

/** When an open (pending or retrying) delivery is next tried; null once it is finished. */
export const nextAttemptOf = (status: DeliveryStatus, nextAttemptAt: unknown): string | null =>
  status === "pending" || status === "retrying" ? iso(nextAttemptAt) : null;

export function toLeasedEvent(r: Row): LeasedDelivery["event"] {
  return {
    source: String(r.source),
    svixId: String(r.svix_id),
    eventId: String(r.event_id),
    type: String(r.type),
    contactId: (r.contact_id as string | null) ?? null,
    receivedAt: new Date(Number(r.received_at)),
    body: r.body as Uint8Array,
    traceparent: (r.traceparent as string | null | undefined) ?? null,
  };
}

export function toStoredEvent(r: Row): StoredEvent {
  return {
    id: String(r.event_id),
    svixId: String(r.svix_id),
    source: String(r.source),
    type: String(r.type),
    status: r.status as EventStatus,
    statusReason: (r.status_reason as string | null) ?? null,
    contactId: (r.contact_id as string | null) ?? null,
    receivedAt: iso(r.received_at),
  };
}

export function toStoredDelivery(r: Row): StoredDelivery {
  const status = r.status as DeliveryStatus;
  return {
    eventId: String(r.event_id),
    connector: String(r.connector),
    status,
    attempts: Number(r.attempts),
    lastError: (r.last_error as string | null) ?? null,
    nextAttemptAt: nextAttemptOf(status, r.next_attempt_at),
    updatedAt: iso(r.updated_at),
  };
}

/** The stats queries' rows, whichever driver read them (counts may arrive as strings). */
export interface StatsRows {
  events: readonly { type: string; n: unknown }[];
  deliveries: readonly { connector: string; status: string; n: unknown }[];
  pending: { n: unknown; oldest: unknown } | undefined;
  pendingByConnector: readonly { connector: string; n: unknown; oldest: unknown }[];
}

/**
 * Builds {@link StoreStats}. Keys are event types and connector names as stored: a sender's
 * `__proto__` or `constructor` type must be counted like any other, so every map is made with
 * `Object.fromEntries` (own data properties, never a prototype assignment).
 */
export function toStats(rows: StatsRows, now: Date): StoreStats {
  const age = (oldest: unknown) => Math.max(0, Math.floor((now.getTime() - Number(oldest)) / 1000));
  const byConnector = new Map<string, [string, number][]>();
  for (const row of rows.deliveries) {
    const list = byConnector.get(row.connector) ?? [];
    list.push([row.status, Number(row.n)]);
    byConnector.set(row.connector, list);
  }
  return {
    events: Object.fromEntries(rows.events.map((r) => [r.type, Number(r.n)])),
    deliveries: Object.fromEntries([...byConnector].map(([c, list]) => [c, Object.fromEntries(list)])),
    pendingByConnector: Object.fromEntries(
      rows.pendingByConnector.map((r) => [r.connector, { depth: Number(r.n), oldestSeconds: age(r.oldest) }]),
    ),
    queueDepth: Number(rows.pending?.n ?? 0),
    oldestPendingSeconds: rows.pending?.oldest == null ? null : age(rows.pending.oldest),
  };
}
